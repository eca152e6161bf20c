package imapserver

import (
	"github.com/xtramail/xtramail/internal/imapserver/imapwire"
	"github.com/xtramail/xtramail/internal/store"
)

// quotaRoot is the one quota root of every account: all its mailboxes
// share the account's storage (RFC 9208 section 3).
const quotaRoot = ""

type quotaUse struct {
	used, limit int64 // bytes; limit 0: none
}

// quota returns the account's storage usage, from the mailboxes' size
// counters (no scan), and its limit: Config.QuotaByDomain for its
// domain, else Config.QuotaStorage.
func (s *session) quota() (quotaUse, error) {
	mbs, err := s.srv.store.Mailboxes(s.ctx, s.account.ID)
	if err != nil {
		return quotaUse{}, err
	}
	q := quotaUse{limit: s.srv.cfg.QuotaStorage}
	if l, ok := s.srv.cfg.QuotaByDomain[store.DomainOf(s.account.Address)]; ok {
		q.limit = l
	}
	for _, mb := range mbs {
		q.used += mb.Size
	}
	return q, nil
}

// writeQuota writes "* QUOTA "" (STORAGE used limit)" in units of 1024
// octets, rounded up (RFC 9208 sections 5.1 and 3.1.1).
func (s *session) writeQuota(q quotaUse) {
	s.wr.Raw("* QUOTA ").String(quotaRoot).Raw(" (STORAGE ").Num64(uint64((q.used + 1023) / 1024)).SP().Num64(uint64(q.limit / 1024)).Raw(")\r\n")
}

// cmdGetQuotaRoot answers GETQUOTAROOT (RFC 9208 section 4.3): the
// mailbox must exist, and its root is the account's.
func (s *session) cmdGetQuotaRoot(c *imapwire.Command) error {
	a := c.Args.(*imapwire.GetQuotaRoot)
	if _, err := s.srv.store.Mailbox(s.ctx, s.account.ID, a.Mailbox); err != nil {
		return err
	}
	q, err := s.quota()
	if err != nil {
		return err
	}
	if q.limit <= 0 {
		s.wr.Raw("* QUOTAROOT ").Mailbox(a.Mailbox).Raw("\r\n")
		return nil
	}
	s.wr.Raw("* QUOTAROOT ").Mailbox(a.Mailbox).SP().String(quotaRoot).Raw("\r\n")
	s.writeQuota(q)
	return nil
}

// cmdGetQuota answers GETQUOTA (RFC 9208 section 4.2) for the one root.
func (s *session) cmdGetQuota(c *imapwire.Command) error {
	a := c.Args.(*imapwire.GetQuota)
	q, err := s.quota()
	if err != nil {
		return err
	}
	if a.Root != quotaRoot || q.limit <= 0 {
		return errNo(imapwire.CodeNonExistent, "no such quota root")
	}
	s.writeQuota(q)
	return nil
}

// checkQuota refuses adding size bytes to the account past its limit
// (RFC 9208 section 4.1.3: APPEND and COPY answer NO [OVERQUOTA]).
func (s *session) checkQuota(size int64) error {
	q, err := s.quota()
	if err != nil {
		return err
	}
	if q.limit > 0 && q.used+size > q.limit {
		return errNo(imapwire.CodeOverQuota, "the account's storage quota would be exceeded")
	}
	return nil
}
