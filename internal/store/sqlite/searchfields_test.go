package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xtramail/xtramail/internal/message"
	"github.com/xtramail/xtramail/internal/store"
)

// TestSearchFieldsFilledForOlderBodies checks the way from a database of
// an earlier version: bodies stored before search_fields existed have no
// fields (a search reads them) until the background pass, started at
// open, has filled them from their headers, newest first, down to the
// last; a body purged meanwhile gets none.
func TestSearchFieldsFilledForOlderBodies(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	acct, deliver := searchSetup(t, s)
	var mbID int64
	const n = 600 // more than two batches
	for i := range n {
		mbID = deliver(fmt.Sprintf("From: s%d@example.org\r\nTo: r%d@example.net\r\nSubject: m%d\r\n\r\nbody\r\n", i, i, i)).MailboxID
	}
	// What the migration leaves: no rows, every body below the mark.
	err := s.write(context.Background(), func(t *tx) error {
		if _, err := t.Exec("DELETE FROM search_fields"); err != nil {
			return err
		}
		_, err := t.Exec("UPDATE meta SET value = (SELECT max(id) FROM bodies) WHERE key = 'search_fields_unfilled_max'")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rows, err := s.SearchFieldRows(ctx, acct.ID, mbID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(rows, func(r store.SearchFieldRow) bool { return r.HasFields }); i >= 0 {
		t.Fatalf("UID %d has fields before the fill", rows[i].UID)
	}
	s.Close()

	s = open(t, dir) // starts the background pass
	defer s.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var mark int64
		if err := s.queryRow(ctx, "SELECT value FROM meta WHERE key = 'search_fields_unfilled_max'").Scan(&mark); err != nil {
			t.Fatal(err)
		}
		if mark == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fill left the mark at %d", mark)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rows, err = s.SearchFieldRows(ctx, acct.ID, mbID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		want := fmt.Sprintf("From: s%d@example.org\r\nTo: r%d@example.net\r\nSubject: m%d\r\n", i, i, i)
		if !r.HasFields || string(r.Fields) != want {
			t.Fatalf("UID %d after the fill: %v %q, want %q", r.UID, r.HasFields, r.Fields, want)
		}
	}
}

// TestVocabularyContaining checks the vocabulary's substring look-up
// against looking at every word, on random words and fragments (also
// fragments at a word's start or end, whole words, words that contain
// each other, and words added after the load).
func TestVocabularyContaining(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d", seed)
	letters := []rune("abcxyzé1ß")
	randWord := func() string {
		rs := make([]rune, 1+r.IntN(6))
		for i := range rs {
			rs[i] = letters[r.IntN(len(letters))]
		}
		return string(rs)
	}
	v := &vocabulary{}
	counts := map[string]int{}
	words := make([]string, 300)
	for i := range words {
		words[i] = randWord()
	}
	// The load: as ensure builds it from the index's rows.
	v.words = map[string]int{}
	for _, w := range words[:200] {
		counts[w] += 2
		v.words[w] += 2
	}
	for w := range v.words {
		v.write(w)
	}
	v.state = vocabLoaded
	// Words indexed after the load.
	for _, w := range words[200:] {
		counts[w]++
		v.add([]ftsRow{{text: message.SearchText{Subject: w}}})
	}
	for range 2000 {
		frag := randWord()
		if r.IntN(2) == 0 {
			w := []rune(words[r.IntN(len(words))])
			a := r.IntN(len(w))
			frag = string(w[a : a+1+r.IntN(len(w)-a)])
		}
		limit := 1000
		if r.IntN(5) == 0 {
			limit = r.IntN(4)
		}
		got, docs := v.containing(frag, limit)
		var want []string
		wantDocs := 0
		for w, n := range counts {
			if strings.Contains(w, frag) {
				want = append(want, w)
				wantDocs += n
			}
		}
		if len(want) > limit {
			// Past the limit, callers only ask whether it was passed.
			if len(got) <= limit {
				t.Fatalf("%q, limit %d: %d words of %d", frag, limit, len(got), len(want))
			}
			continue
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || docs != wantDocs {
			t.Fatalf("%q: %q (%d bodies), want %q (%d)", frag, got, docs, want, wantDocs)
		}
		// Without accents (the webmail's search): the words whose own
		// or accent-free form holds the fragment's accent-free form.
		base := message.FoldAccents(frag)
		got, docs = v.containingBase(base, 1000)
		want, wantDocs = nil, 0
		for w, n := range counts {
			if strings.Contains(w, base) || strings.Contains(message.FoldAccents(w), base) {
				want = append(want, w)
				wantDocs += n
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || docs != wantDocs {
			t.Fatalf("without accents, %q: %q (%d bodies), want %q (%d)", base, got, docs, want, wantDocs)
		}
	}
}
