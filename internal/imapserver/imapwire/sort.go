package imapwire

import "strings"

// Sort is SORT [RETURN (options)] (criteria) charset search-keys (RFC
// 5256 section 3; the RETURN options are ESORT's, RFC 5267 section 3).
type Sort struct {
	// Return is nil for a plain SORT, answered with "* SORT", and set for
	// ESORT, answered with "* ESEARCH".
	Return   *SearchReturn
	Criteria []SortCriterion // at least one
	Charset  string          // upper case
	Keys     []SearchKey     // all must match
}

// SortCriterion is one sort key (RFC 5256 section 3: ARRIVAL, CC, DATE,
// FROM, SIZE, SUBJECT, TO; RFC 5957: DISPLAYFROM, DISPLAYTO), upper case.
type SortCriterion struct {
	Key     string
	Reverse bool
}

func sortKeyName(s string) bool {
	switch s {
	case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
		return true
	}
	return false
}

func (a *Sort) appendArgs(b []byte) []byte {
	if r := a.Return; r != nil {
		b = append(b, " RETURN ("...)
		b = appendOpts(b, opt{r.Min, "MIN"}, opt{r.Max, "MAX"}, opt{r.All, "ALL"}, opt{r.Count, "COUNT"}, opt{r.Save, "SAVE"}, opt{r.Context, "CONTEXT"}, opt{r.Update, "UPDATE"})
		b = r.appendPartial(b)
		b = append(b, ')')
	}
	b = append(b, " ("...)
	for i, c := range a.Criteria {
		if i > 0 {
			b = append(b, ' ')
		}
		if c.Reverse {
			b = append(b, "REVERSE "...)
		}
		b = append(b, c.Key...)
	}
	b = append(b, ") "...)
	b = appendAString(b, a.Charset)
	for i := range a.Keys {
		b = a.Keys[i].appendTo(append(b, ' '))
	}
	return b
}

// Thread is THREAD algorithm charset search-keys (RFC 5256 section 3).
type Thread struct {
	Algorithm string // upper case: REFERENCES or ORDEREDSUBJECT
	Charset   string // upper case
	Keys      []SearchKey
}

func (a *Thread) appendArgs(b []byte) []byte {
	b = append(append(b, ' '), a.Algorithm...)
	b = appendAString(append(b, ' '), a.Charset)
	for i := range a.Keys {
		b = a.Keys[i].appendTo(append(b, ' '))
	}
	return b
}

// ParseSort reads SORT's arguments into *Sort.
func ParseSort(p *Parser, _ bool) Args {
	a := &Sort{}
	p.sp()
	if p.takeKeyword("RETURN") {
		a.Return = p.searchReturn("sort")
	}
	p.expect('(', "'(' to start sort criteria")
	p.listItems(func() {
		var c SortCriterion
		k := p.keyword("sort key")
		if k == "REVERSE" {
			c.Reverse = true
			p.sp()
			k = p.keyword("sort key")
		}
		if !sortKeyName(k) && p.err == nil {
			p.failf("unknown sort key %s", k)
		}
		c.Key = k
		a.Criteria = append(a.Criteria, c)
	})
	if len(a.Criteria) == 0 {
		p.failf("empty sort criteria")
	}
	p.sp()
	a.Charset = strings.ToUpper(p.astring("charset"))
	a.Keys = p.searchKeys()
	return a
}

// ParseThread reads THREAD's arguments into *Thread.
func ParseThread(p *Parser, _ bool) Args {
	a := &Thread{}
	p.sp()
	a.Algorithm = p.keyword("threading algorithm")
	p.sp()
	a.Charset = strings.ToUpper(p.astring("charset"))
	a.Keys = p.searchKeys()
	return a
}

// searchKeys reads SP search-key *(SP search-key).
func (p *parser) searchKeys() []SearchKey {
	p.sp()
	return p.searchKeyList()
}
