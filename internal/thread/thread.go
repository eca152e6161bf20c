package thread

import (
	"cmp"
	"slices"
	"strconv"
)

// Node is one node of a thread tree: a message, or (UID 0) a dummy that
// stands for a message referred to but not present (RFC 5256 section 3,
// REFERENCES), holding siblings together.
type Node struct {
	UID      uint32
	Children []*Node

	msg    *Msg
	parent *Node
	sent   int64 // the node's sort date: its message's, or a dummy's first child's
}

// OrderedSubject threads msgs by base subject (RFC 5256 section 3,
// ORDEREDSUBJECT): messages are sorted by base subject and sent date, each
// group with one base subject is a thread whose first message is the
// parent of all the others, and threads are ordered by the sent date of
// their first message.
func OrderedSubject(msgs []Msg) []*Node {
	type item struct {
		m    *Msg
		base string
		sent int64
	}
	items := make([]item, len(msgs))
	for i := range msgs {
		base, _ := msgs[i].BaseSubject()
		items[i] = item{&msgs[i], base, msgs[i].SentDate().UnixNano()}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.base, b.base); c != 0 {
			return c
		}
		if c := cmp.Compare(a.sent, b.sent); c != 0 {
			return c
		}
		return cmp.Compare(a.m.UID, b.m.UID)
	})
	var roots []*Node
	var root *Node
	for i, it := range items {
		n := &Node{UID: it.m.UID, msg: it.m, sent: it.sent}
		if i > 0 && it.base == items[i-1].base {
			n.parent = root
			root.Children = append(root.Children, n)
			continue
		}
		root = n
		roots = append(roots, n)
	}
	sortSiblings(roots)
	return roots
}

// References threads msgs by their Message-ID, In-Reply-To and References
// (RFC 5256 section 3, REFERENCES; the algorithm of Jamie Zawinski).
func References(msgs []Msg) []*Node {
	byID := make(map[string]*Node, len(msgs))
	// all holds every container in the order it was made, so that the
	// root set does not depend on map iteration.
	all := make([]*Node, 0, len(msgs))
	container := func(id string) *Node {
		n := byID[id]
		if n == nil {
			n = &Node{}
			byID[id] = n
			all = append(all, n)
		}
		return n
	}
	// (1) A container per message id, linked as the References say.
	for i := range msgs {
		m := &msgs[i]
		var n *Node
		if m.MessageID != "" {
			n = container(m.MessageID)
		}
		if n == nil || n.msg != nil {
			// (1A) No id, or a duplicate: a container of its own.
			n = &Node{}
			all = append(all, n)
		}
		n.msg, n.UID = m, m.UID
		refs := m.Links()
		// (1B) Each reference is the parent of the next, unless one
		// already has a parent or the link would make a loop.
		var prev *Node
		for _, id := range refs {
			if id == "" {
				continue
			}
			r := container(id)
			if prev != nil && r != prev && r.parent == nil && !reaches(r, prev) {
				link(prev, r)
			}
			prev = r
		}
		// (1C) The last reference is the message's parent, replacing
		// any parent it had, unless that makes a loop.
		if prev != nil && prev == n.parent {
			continue
		}
		if n.parent != nil {
			unlink(n)
		}
		if prev != nil && prev != n && !reaches(n, prev) {
			link(prev, n)
		}
	}
	// (2) The root set: containers without parents.
	var roots []*Node
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	// (3) The id table is no longer needed. (4) Prune dummies.
	roots = prune(roots, true)
	// (5) Sort the root set by sent date; dummies take their first
	// child's.
	sortSiblings(roots)
	// (6) Group the root set by base subject.
	roots = groupBySubject(roots)
	// (7) Sort every set of siblings by sent date.
	sortSiblings(roots)
	return roots
}

// Links returns the message ids that link m into its thread, oldest
// first: its References, or when it has none the first message id of its
// In-Reply-To (RFC 5256 section 3, REFERENCES step 1). The store's
// conversations link messages by the same ids.
func (m *Msg) Links() []string {
	if len(m.References) == 0 && m.InReplyTo != "" {
		return []string{m.InReplyTo}
	}
	return m.References
}

// reaches reports whether to is from or an ancestor of from.
func reaches(to, from *Node) bool {
	for n := from; n != nil; n = n.parent {
		if n == to {
			return true
		}
	}
	return false
}

func link(parent, child *Node) {
	child.parent = parent
	parent.Children = append(parent.Children, child)
}

func unlink(n *Node) {
	p := n.parent
	if i := slices.Index(p.Children, n); i >= 0 {
		p.Children = slices.Delete(p.Children, i, i+1)
	}
	n.parent = nil
}

// prune removes dummies without children and promotes the children of
// the others (RFC 5256 section 3, REFERENCES step 4), except a dummy in
// the root set with more than one child, which stays to hold them.
func prune(nodes []*Node, isRoot bool) []*Node {
	var out []*Node
	for _, n := range nodes {
		n.Children = prune(n.Children, false)
		for _, c := range n.Children {
			c.parent = n
		}
		switch {
		case n.msg != nil:
			out = append(out, n)
		case len(n.Children) == 0:
		case isRoot && len(n.Children) > 1:
			out = append(out, n)
		default:
			for _, c := range n.Children {
				c.parent = n.parent
			}
			out = append(out, n.Children...)
		}
	}
	return out
}

// sortSiblings orders every set of siblings by sent date, then UID, and
// sets each dummy's date to its first child's.
func sortSiblings(nodes []*Node) {
	for _, n := range nodes {
		sortSiblings(n.Children)
		if n.msg != nil {
			n.sent = n.msg.SentDate().UnixNano()
		} else if len(n.Children) > 0 {
			n.sent = n.Children[0].sent
		}
	}
	slices.SortStableFunc(nodes, func(a, b *Node) int {
		if c := cmp.Compare(a.sent, b.sent); c != 0 {
			return c
		}
		return cmp.Compare(firstUID(a), firstUID(b))
	})
}

func firstUID(n *Node) uint32 {
	for n.msg == nil && len(n.Children) > 0 {
		n = n.Children[0]
	}
	return n.UID
}

// subjectOf is the message whose subject a root's thread goes by: its
// own, or a dummy's first child's.
func subjectOf(n *Node) *Msg {
	if n.msg != nil {
		return n.msg
	}
	if len(n.Children) > 0 {
		return n.Children[0].msg
	}
	return nil
}

// groupBySubject merges root threads with the same base subject (RFC 5256
// section 3, REFERENCES step 5).
func groupBySubject(roots []*Node) []*Node {
	table := make(map[string]*Node)
	reply := func(n *Node) bool {
		m := subjectOf(n)
		if m == nil {
			return false
		}
		_, r := m.BaseSubject()
		return r
	}
	base := func(n *Node) string {
		m := subjectOf(n)
		if m == nil {
			return ""
		}
		b, _ := m.BaseSubject()
		return b
	}
	// (5B) The table: per base subject, a dummy root if there is one,
	// else a root whose subject is not a reply, else any.
	for _, n := range roots {
		b := base(n)
		if b == "" {
			continue
		}
		old := table[b]
		if old == nil || (n.msg == nil && old.msg != nil) || (old.msg != nil && reply(old) && !reply(n)) {
			table[b] = n
		}
	}
	// (5C) Merge each root into the table's entry for its subject.
	var out []*Node
	for _, n := range roots {
		b := base(n)
		t := table[b]
		if b == "" || t == nil || t == n {
			out = append(out, n)
			continue
		}
		switch {
		case t.msg == nil && n.msg == nil:
			for _, c := range n.Children {
				link(t, c)
			}
			n.Children = nil
		case t.msg == nil:
			link(t, n)
		case n.msg == nil:
			// The table holds a message where this is a dummy: the table
			// prefers dummies, so this cannot be; keep it as a root.
			out = append(out, n)
		case reply(n) && !reply(t):
			link(t, n)
		default:
			// Neither is a reply of the other: a new dummy holds both, in
			// the place of the table's entry.
			moved := &Node{}
			*moved = *t
			for _, c := range moved.Children {
				c.parent = moved
			}
			*t = Node{}
			link(t, moved)
			link(t, n)
		}
	}
	return out
}

// Format appends the IMAP thread-list form of roots (RFC 5256 section 4,
// thread-list): "(1 2 (3)(4))" for each root.
func Format(b []byte, roots []*Node) []byte {
	for _, n := range roots {
		b = append(b, '(')
		b = formatMembers(b, n)
		b = append(b, ')')
	}
	return b
}

// formatMembers writes a node and its descendants: a chain of single
// children as "a b c", several children each in parentheses.
func formatMembers(b []byte, n *Node) []byte {
	first := true
	for {
		if n.msg != nil {
			if !first {
				b = append(b, ' ')
			}
			b = strconv.AppendUint(b, uint64(n.UID), 10)
			first = false
		}
		if len(n.Children) == 1 && n.msg != nil {
			n = n.Children[0]
			continue
		}
		if len(n.Children) == 0 {
			return b
		}
		if !first {
			b = append(b, ' ')
		}
		for _, c := range n.Children {
			b = append(b, '(')
			b = formatMembers(b, c)
			b = append(b, ')')
		}
		return b
	}
}
