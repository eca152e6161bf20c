package imapserver

import (
	"strings"
)

// cmdSubscribe runs SUBSCRIBE and UNSUBSCRIBE (RFC 9051 sections 6.3.7
// and 6.3.8) on the account's list of subscribed names. SUBSCRIBE wants
// an existing mailbox (RFC 3501 section 6.3.6 allows checking);
// UNSUBSCRIBE takes any subscribed name, also one whose mailbox is gone.
func (s *session) cmdSubscribe(tag, name string, on bool) error {
	name = strings.TrimSuffix(name, "/")
	var err error
	if on {
		_, err = s.srv.store.Mailbox(s.ctx, s.account.ID, name)
	}
	if err == nil {
		err = s.srv.store.SetSubscription(s.ctx, s.account.ID, name, on)
	}
	if err != nil {
		return err
	}
	s.ok(tag, "completed")
	return nil
}
