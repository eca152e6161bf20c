package imapwire

// CancelUpdate is CANCELUPDATE tag... (RFC 5267 section 4.3.5): stop
// keeping the results of the commands with those tags up to date.
type CancelUpdate struct {
	Tags []string // at least one
}

func (a *CancelUpdate) appendArgs(b []byte) []byte {
	for _, t := range a.Tags {
		b = appendQuoted(append(b, ' '), t)
	}
	return b
}

// ParseCancelUpdate reads CANCELUPDATE's arguments into *CancelUpdate:
// 1*(SP quoted), the tags as the client sent them.
func ParseCancelUpdate(p *Parser, _ bool) Args {
	a := &CancelUpdate{}
	for len(a.Tags) == 0 || (p.err == nil && p.peek() == ' ') {
		p.sp()
		a.Tags = append(a.Tags, p.quoted())
	}
	return a
}
