package service

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// GCHeadroom is how far the heap may grow past what is live before the
// collector runs again, at least.
//
// Go's default (GOGC=100) lets it grow by as much as is live. The
// server's live heap is small, about 6 MiB under xtramail-bench submit,
// while every message allocates its buffers anew: the collector ran 13
// times a second, and GOGC=400 gave 10% more messages a second for 8%
// less CPU per message. A floor of 64 MiB costs at most that much
// memory, whatever the heap; a large heap keeps Go's default.
const GCHeadroom = 64 << 20

// PaceGC sets the collector's GOGC after each collection, until ctx
// ends, so that the heap may grow by at least headroom past what that
// collection found live. It does nothing when the GOGC environment
// variable is set: the operator chose. GOMEMLIMIT bounds the heap still.
//
// It changes the whole process: the serve command calls it, never a
// library or a test that measures the heap.
func PaceGC(ctx context.Context, headroom uint64) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	p := &gcPacer{ctx: ctx, headroom: headroom, live: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	p.set()
	p.arm()
}

type gcPacer struct {
	ctx      context.Context
	headroom uint64
	live     []metrics.Sample // used by one goroutine at a time: set, then the finalizers'
}

// sentinel is garbage from birth: its finalizer runs after the next
// collection, which is when the live heap is known anew.
type sentinel struct{ p *gcPacer }

func (p *gcPacer) arm() {
	runtime.SetFinalizer(&sentinel{p}, func(s *sentinel) {
		if s.p.ctx.Err() == nil {
			s.p.set()
			s.p.arm()
		}
	})
}

func (p *gcPacer) set() {
	metrics.Read(p.live)
	if p.live[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(gcPercent(p.live[0].Value.Uint64(), p.headroom))
	}
}

// gcPercent is the GOGC that puts the next collection headroom past a
// live heap of live bytes, or Go's default 100 when that is further. Go
// counts a heap under 4 MiB (none is known before the first collection)
// as 4 MiB.
func gcPercent(live, headroom uint64) int {
	const minHeap = 4 << 20
	return max(100, int(headroom*100/max(live, minHeap)))
}
