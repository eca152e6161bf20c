package smtpserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// invariants checks what the budget holds: the accounts' bytes add up
// to what it counts for them, none is negative or zero (a holder with
// nothing is not kept), none holds more than its share, they hold at
// most three quarters of the budget together, and the whole is within
// the budget.
func (b *Budget) invariants() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum int64
	for k, n := range b.held {
		if k == "" || n <= 0 {
			return fmt.Errorf("holder %q holds %d", k, n)
		}
		if n > b.share {
			return fmt.Errorf("holder %q holds %d, over its share %d", k, n, b.share)
		}
		sum += n
	}
	if sum != b.accounts || sum > b.accountsMax() {
		return fmt.Errorf("accounts hold %d, the budget counts %d for them, of %d", sum, b.accounts, b.accountsMax())
	}
	if b.used < sum || b.used > b.max {
		return fmt.Errorf("the budget counts %d of %d, the accounts %d", b.used, b.max, sum)
	}
	return nil
}

// holders are capture ("") and eight accounts: more than enough, at
// their share, to reach the accounts' three quarters of the budget.
var holders = []string{"", "a@example.test", "b@example.test", "c@example.test", "d@example.test",
	"e@example.test", "f@example.test", "g@example.test", "h@example.test"}

// TestBudgetSharesModel: one goroutine's random Reserves,
// Writes and Closes on spools of random holders get exactly the answers
// of a model of the budget with a share per holder: ErrShare over the
// holder's share, ErrBudget over the whole or, for an account, over
// three quarters of it for all accounts together (two shares, where the
// largest message makes a share large), and each holder's bytes are
// what the model says.
func TestBudgetSharesModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 35))
	const max = 1000
	b := NewBudget(max)
	b.FitMessage(200) // the share: 200 + 200/32 + 64 KiB, capped at max
	share := b.Share()
	if share != max {
		t.Fatalf("share %d, want the budget %d (64 KiB of room is more)", share, max)
	}
	b = NewBudget(max)
	if share = b.Share(); share != max/8 {
		t.Fatalf("share %d, want %d", share, max/8)
	}
	checkBudgetModel(t, rnd, b, max*3/4, true)
	// A budget whose largest message is most of three quarters of it:
	// reserved only, as writing such spools would fill the disk.
	const large = 8 << 20
	b = NewBudget(large)
	b.FitMessage(3 << 20)
	if share = b.Share(); 2*share <= large*3/4 {
		t.Fatalf("share %d of %d: want over three eighths", share, large)
	}
	checkBudgetModel(t, rnd, b, 2*share, false)
}

// checkBudgetModel runs random operations on b against a model in which
// all accounts together hold at most accountsMax, writing spools (write)
// or only reserving.
func checkBudgetModel(t *testing.T, rnd *rand.Rand, b *Budget, accountsMax int64, write bool) {
	max, share := b.max, b.Share()
	model := map[string]int64{}
	var used, accounts int64
	accountsFull := 0 // refusals for the accounts' part, not the whole
	type open struct {
		sp   *Spool
		held int64
	}
	var spools []open
	dir := t.TempDir()
	for i := range 20000 {
		if len(spools) > 0 && rnd.IntN(3) == 0 {
			j := rnd.IntN(len(spools))
			o := spools[j]
			o.sp.Close()
			model[o.sp.holder] -= o.held
			used -= o.held
			if o.sp.holder != "" {
				accounts -= o.held
			}
			spools = append(spools[:j], spools[j+1:]...)
		} else {
			h := holders[rnd.IntN(len(holders))]
			sp := NewSpool(dir, b).For(h)
			n := rnd.Int64N(share + 20)
			var err error
			if !write || rnd.IntN(2) == 0 {
				err = sp.Reserve(n)
			} else {
				_, err = sp.Write(make([]byte, n))
			}
			var want error
			switch {
			case h != "" && model[h]+n > share:
				want = ErrShare
			case h != "" && accounts+n > accountsMax:
				want = ErrBudget
				accountsFull++
			case used+n > max:
				want = ErrBudget
			}
			if err != want {
				t.Fatalf("op %d: %q takes %d (holds %d, budget %d of %d): %v, want %v", i, h, n, model[h], used, max, err, want)
			}
			if err == nil {
				model[h] += n
				used += n
				if h != "" {
					accounts += n
				}
				spools = append(spools, open{sp, n})
			} else {
				sp.Close()
			}
		}
		if err := b.invariants(); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		for _, h := range holders {
			if b.HeldBy(h) != model[h] {
				t.Fatalf("op %d: %q holds %d, want %d", i, h, b.HeldBy(h), model[h])
			}
		}
	}
	for _, o := range spools {
		o.sp.Close()
	}
	if b.Used() != 0 || len(b.held) != 0 {
		t.Fatalf("after every spool closed: used %d, holders %v", b.Used(), b.held)
	}
	if accountsFull == 0 {
		t.Fatalf("no account was ever refused for the accounts' part: the test did not reach it")
	}
	t.Logf("%d refusals for the accounts' part", accountsFull)
}

// TestBudgetSharesConcurrent: spools of a few holders written
// and closed at random from many goroutines keep the budget's
// invariants at every moment a checker looks, an account is refused only
// with ErrShare or ErrBudget, and the budget is empty once they close.
func TestBudgetSharesConcurrent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	const max = 64 << 10
	b := NewBudget(max)
	dir := t.TempDir()
	var stop atomic.Bool
	var checks int
	checked := make(chan error, 1)
	go func() {
		var err error
		for err == nil && !stop.Load() {
			err = b.invariants()
			checks++
		}
		checked <- err
	}()
	var shares, fulls atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, uint64(g)))
			buf := make([]byte, 4096)
			for range 500 {
				h := holders[rnd.IntN(len(holders))]
				sp := NewSpool(dir, b).For(h)
				if rnd.IntN(4) == 0 {
					if err := sp.Reserve(rnd.Int64N(max / 4)); err != nil {
						count(t, h, err, &shares, &fulls)
					}
				}
				for range rnd.IntN(8) {
					if _, err := sp.Write(buf[:rnd.IntN(len(buf))]); err != nil {
						count(t, h, err, &shares, &fulls)
						break
					}
				}
				sp.Close()
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checks; refused %d for a share, %d for the budget", checks, shares.Load(), fulls.Load())
	if b.Used() != 0 || len(b.held) != 0 {
		t.Fatalf("after every spool closed: used %d, holders %v", b.Used(), b.held)
	}
}

func count(t *testing.T, holder string, err error, shares, fulls *atomic.Int64) {
	switch {
	case errors.Is(err, ErrShare) && holder != "":
		shares.Add(1)
	case err == ErrBudget:
		fulls.Add(1)
	default:
		t.Errorf("%q refused with %v", holder, err)
	}
}

// TestBudgetOfHolderAllocatesNothing: the budget is taken on every
// Write of every body; a holder's costs a map lookup, no allocation,
// and a holder that comes back reuses its place in the map.
func TestBudgetOfHolderAllocatesNothing(t *testing.T) {
	b := NewBudget(1 << 40)
	b.Acquire("bob@example.test", 1) // another holder in the map
	const alice = "alice@example.test"
	b.Acquire(alice, 1)
	b.Release(alice, 1)
	if n := testing.AllocsPerRun(1000, func() {
		b.Acquire(alice, 100)
		b.Acquire(alice, 100)
		b.Release(alice, 200)
	}); n != 0 {
		t.Fatalf("%v allocations per acquire", n)
	}
}
