package imapwire

// GetQuota is GETQUOTA quota-root (RFC 9208 section 4.2).
type GetQuota struct {
	Root string
}

func (a *GetQuota) appendArgs(b []byte) []byte { return appendAString(append(b, ' '), a.Root) }

// GetQuotaRoot is GETQUOTAROOT mailbox (RFC 9208 section 4.3).
type GetQuotaRoot struct {
	Mailbox string
}

func (a *GetQuotaRoot) appendArgs(b []byte) []byte { return appendMailbox(append(b, ' '), a.Mailbox) }

// ParseGetQuota reads GETQUOTA's argument into *GetQuota.
func ParseGetQuota(p *Parser, _ bool) Args {
	p.sp()
	return &GetQuota{Root: p.astring("quota root")}
}

// ParseGetQuotaRoot reads GETQUOTAROOT's argument into *GetQuotaRoot.
func ParseGetQuotaRoot(p *Parser, _ bool) Args {
	p.sp()
	return &GetQuotaRoot{Mailbox: p.mailbox()}
}
