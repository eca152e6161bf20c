package queue

import (
	"context"
	"sync"

	"github.com/xtramail/xtramail/internal/store"
)

// joiner gathers the failures and delays of a message whose recipients
// are at several domains: MX delivery sends it to each domain over a
// session of its own, and each session's settle made a notification of
// its own, so a sender whose message failed at three domains got three.
// Those entries are held (unsettled, still leased) until the last of the
// message's sessions in the pass is done with it, then settled together
// with one notification naming every failed or delayed recipient (RFC
// 3464 allows a report on several recipients; Postfix sends one per
// message).
type joiner struct {
	mu   sync.Mutex
	open int // sessions of the pass not yet done with the message
	msg  *outMsg
	res  []result
}

// joinMessages gives every message that goes out over more than one of
// sessions a joiner shared by its copies, keyed like groupMessages.
func joinMessages(sessions [][]*outMsg) {
	type key struct {
		body int64
		from string
	}
	count := map[key]int{}
	for _, msgs := range sessions {
		for _, m := range msgs {
			count[key{m.entries[0].BodyID, m.entries[0].MailFrom}]++
		}
	}
	joins := map[key]*joiner{}
	for _, msgs := range sessions {
		for _, m := range msgs {
			k := key{m.entries[0].BodyID, m.entries[0].MailFrom}
			if count[k] < 2 {
				continue
			}
			if joins[k] == nil {
				joins[k] = &joiner{open: count[k], msg: &outMsg{}}
			}
			m.join = joins[k]
		}
	}
}

// take holds the entries of m whose settle tells the sender of a failure
// or a delay (failed, deferred past the lifetime, or deferred long
// enough for the delay notice) and returns the others, nil when none is
// left. Deliveries are never held: they are settled at once.
func (j *joiner) take(w *Worker, m *outMsg, results []result) (*outMsg, []result) {
	now := w.cfg.Now()
	rest := &outMsg{}
	var restRes []result
	j.mu.Lock()
	defer j.mu.Unlock()
	for i, e := range m.entries {
		r := results[i]
		expired := !now.Before(e.Queued.Add(w.cfg.Lifetime))
		delayed := !e.DelayNotified && now.Sub(e.Queued) >= w.cfg.DelayNotice && wants(e, "DELAY")
		if r.outcome == store.QueueFailed || r.outcome == store.QueueDeferred && (expired || delayed) {
			j.msg.entries = append(j.msg.entries, e)
			j.res = append(j.res, r)
			continue
		}
		rest.entries = append(rest.entries, e)
		restRes = append(restRes, r)
	}
	if len(rest.entries) == 0 {
		return nil, nil
	}
	return rest, restRes
}

// done says that a session is done with the message, settled or not;
// the last one settles what was held.
func (j *joiner) done(ctx context.Context, w *Worker) {
	j.mu.Lock()
	j.open--
	last := j.open == 0
	m, res := j.msg, j.res
	j.mu.Unlock()
	if last && len(m.entries) > 0 {
		w.settle(ctx, m, res)
	}
}
