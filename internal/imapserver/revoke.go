package imapserver

import (
	"context"
	"time"

	"github.com/xtramail/xtramail/internal/store"
)

// Signed-in sessions end with "* BYE" once their account is disabled,
// removed or given a new password (issue 11 part 4): the server compares
// the account as the store has it now with the account as it was at
// sign-in. A change made through this process's store reaches every
// session of the account through the change feed (store.ChangeAccount):
// a session running commands checks at its next one, the others at once.
// Changes made by other processes (the CLI works on the data directory,
// and with a shared database another node may make them) are not on the
// feed: a session running commands reads its account again at its first
// command after Config.AccountRecheck, and a periodic sweep checks the
// sessions waiting for a command or in IDLE. Reading the account before
// every command cost a store read per command (issue 11 part 9). All
// read only the account's row, through the Store interface, which every
// backend serves.

// checkAccount reads the session's account before a command runs and
// reports why the session must end, or "".
func (s *session) checkAccount() string {
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	cur, err := s.srv.store.AccountByID(ctx, s.account.ID)
	return store.SignInRevoked(s.account, cur, err)
}

// recheckAccount is checkAccount before a command when the feed said the
// account changed or the last read is older than Config.AccountRecheck;
// otherwise it reads nothing.
func (s *session) recheckAccount() string {
	now := time.Now()
	if !s.accountStale.Swap(false) && now.Sub(s.accountRead) < s.srv.cfg.AccountRecheck {
		return ""
	}
	s.accountRead = now
	return s.checkAccount()
}

// end makes the session say "* BYE reason" and close at once: at its
// next command boundary, from IDLE, or while it waits for a command.
func (s *session) end(reason string) {
	s.endReason.Store(&reason)
	s.interrupt()
}

// byeText is the BYE of a session ended by end or by Shutdown.
func (s *session) byeText() string {
	if r := s.endReason.Load(); r != nil {
		return *r
	}
	return "server shutting down"
}

// sweepAccounts ends the sessions whose account changed, every
// Config.AccountCheckInterval until Shutdown: the sessions busy with
// commands see the change at their next one, this catches the others.
func (s *Server) sweepAccounts() {
	t := time.NewTicker(s.cfg.AccountCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.checkSessions(0)
	}
}

// checkSessions reads the accounts of the signed-in sessions (only
// account id's when id is not 0) and ends those whose account changed.
func (s *Server) checkSessions(id int64) {
	s.mu.Lock()
	byAccount := map[int64][]*session{}
	for sess := range s.sessions {
		if a := sess.signedIn.Load(); a != nil && (id == 0 || a.ID == id) {
			byAccount[a.ID] = append(byAccount[a.ID], sess)
		}
	}
	s.mu.Unlock()
	for id, sessions := range byAccount {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cur, err := s.store.AccountByID(ctx, id)
		cancel()
		for _, sess := range sessions {
			if reason := store.SignInRevoked(*sess.signedIn.Load(), cur, err); reason != "" {
				sess.log.Info("IMAP session ended: account changed", "reason", reason)
				sess.end(reason)
			}
		}
	}
}
