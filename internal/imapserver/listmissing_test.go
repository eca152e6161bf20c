package imapserver_test

import (
	"slices"
	"testing"
)

// TestListMissingParentsAndNonExistent guards LIST over a tree with
// missing parents (p, DELETEd with a child), deleted subscribed
// mailboxes (k) and a subscribed grandchild of unsubscribed parents
// (x/y/z), against RFC 9051 section 6.3.9, RFC 5258 sections 3-5 and what
// Dovecot 2.3 answers for the same tree:
//   - a missing parent is listed whenever the pattern matches it, with
//     "*" as with "%" (before, "*" left it out and a client building its
//     tree from "LIST "" *" lost the parent);
//   - it is \Noselect in IMAP4rev1's LIST, \NonExistent (which implies
//     \Noselect) in LIST-EXTENDED and for IMAP4rev2, whose LIST is the
//     extended one (RFC 9051 section 7.3.1);
//   - a subscription outlives its mailbox (\Subscribed \NonExistent), and
//     LSUB "%" lists an unsubscribed parent of a subscribed child
//     \Noselect (RFC 3501 section 6.3.9).
func TestListMissingParentsAndNonExistent(t *testing.T) {
	e := newEnv(t)
	c := e.login()
	for _, l := range []string{"CREATE x/y/z", "CREATE p", "CREATE p/q", "CREATE k",
		"SUBSCRIBE p", "SUBSCRIBE p/q", "SUBSCRIBE x/y/z", "SUBSCRIBE k", "DELETE p", "DELETE k"} {
		c.ok(l)
	}
	defaults := []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`, `* LIST (\HasNoChildren \Trash) "/" Trash`}
	subscribedDefaults := []string{`* LIST (\Subscribed \HasNoChildren) "/" INBOX`, `* LIST (\Subscribed \HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\Subscribed \HasNoChildren \Sent) "/" Sent`, `* LIST (\Subscribed \HasNoChildren \Trash) "/" Trash`}
	lsubDefaults := []string{`* LSUB () "/" INBOX`, `* LSUB (\Drafts) "/" Drafts`, `* LSUB (\Sent) "/" Sent`, `* LSUB (\Trash) "/" Trash`}
	cases := []struct {
		command string
		want    []string
	}{
		{`LIST "" "p*"`, []string{`* LIST (\Noselect \HasChildren) "/" p`, `* LIST (\HasNoChildren) "/" p/q`}},
		{`LIST "" "*"`, append(slices.Clone(defaults), `* LIST (\Noselect \HasChildren) "/" p`, `* LIST (\HasNoChildren) "/" p/q`,
			`* LIST (\HasChildren) "/" x`, `* LIST (\HasChildren) "/" x/y`, `* LIST (\HasNoChildren) "/" x/y/z`)},
		{`LIST "" "%"`, append(slices.Clone(defaults), `* LIST (\Noselect \HasChildren) "/" p`, `* LIST (\HasChildren) "/" x`)},
		{`LIST "" "p"`, []string{`* LIST (\Noselect \HasChildren) "/" p`}},
		{`LIST "" "p/%"`, []string{`* LIST (\HasNoChildren) "/" p/q`}},
		{`LIST "" "%/%"`, []string{`* LIST (\HasNoChildren) "/" p/q`, `* LIST (\HasChildren) "/" x/y`}},
		{`LIST "" "p*" RETURN (CHILDREN)`, []string{`* LIST (\NonExistent \HasChildren) "/" p`, `* LIST (\HasNoChildren) "/" p/q`}},
		{`LIST "" "p*" RETURN (SUBSCRIBED)`, []string{`* LIST (\Subscribed \NonExistent \HasChildren) "/" p`, `* LIST (\Subscribed \HasNoChildren) "/" p/q`}},
		{`LIST "" ("p" "k")`, []string{`* LIST (\NonExistent \HasChildren) "/" p`}},
		{`LIST () "" "%" RETURN (SPECIAL-USE)`, append(slices.Clone(defaults), `* LIST (\NonExistent \HasChildren) "/" p`, `* LIST (\HasChildren) "/" x`)},
		{`LIST (SPECIAL-USE) "" "*"`, defaults[1:]},
		{`LIST (SUBSCRIBED) "" "*"`, append(slices.Clone(subscribedDefaults), `* LIST (\Subscribed \NonExistent) "/" k`,
			`* LIST (\Subscribed \NonExistent) "/" p`, `* LIST (\Subscribed \HasNoChildren) "/" p/q`, `* LIST (\Subscribed \HasNoChildren) "/" x/y/z`)},
		{`LIST (SUBSCRIBED) "" "%"`, append(slices.Clone(subscribedDefaults), `* LIST (\Subscribed \NonExistent) "/" k`,
			`* LIST (\Subscribed \NonExistent) "/" p`)},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`, append(slices.Clone(subscribedDefaults), `* LIST (\Subscribed \NonExistent) "/" k`,
			`* LIST (\Subscribed \NonExistent) "/" p ("CHILDINFO" ("SUBSCRIBED"))`, `* LIST (\HasChildren) "/" x ("CHILDINFO" ("SUBSCRIBED"))`)},
		{`LSUB "" "%"`, append(slices.Clone(lsubDefaults), `* LSUB (\Noselect) "/" k`, `* LSUB (\Noselect) "/" p`, `* LSUB (\Noselect) "/" x`)},
		{`LSUB "" "*"`, append(slices.Clone(lsubDefaults), `* LSUB (\Noselect) "/" k`, `* LSUB (\Noselect) "/" p`,
			`* LSUB () "/" p/q`, `* LSUB () "/" x/y/z`)},
		{`ENABLE IMAP4rev2`, []string{`* ENABLED IMAP4rev2`}},
		// IMAP4rev2: the extended LIST's attributes for every LIST.
		{`LIST "" "p*"`, []string{`* LIST (\NonExistent \HasChildren) "/" p`, `* LIST (\HasNoChildren) "/" p/q`}},
		{`LIST "" "%"`, append(slices.Clone(defaults), `* LIST (\NonExistent \HasChildren) "/" p`, `* LIST (\HasChildren) "/" x`)},
	}
	for _, tc := range cases {
		got := c.ok(tc.command)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.command, got, tc.want)
		}
	}
}
