package checks

import (
	"fmt"
	"strings"
)

// A doc is markdown made of sections of items, each item whole markdown on
// its own (a list item with what is nested in it), so that leaving items
// out never cuts a string inside a character or a markdown construct: no
// code span, table, <details> block or list is ever left open.
//
// When the doc does not fit its limit, fit leaves items out, the most
// expendable first (the highest rank; among equals, evenly across the
// sections, from their ends), and says what it left out: a line at the end
// of each section that lost something, and a note at the end of the doc.
// The note and the lines are reserved for before anything is left out, so
// they always fit; so does the doc's trailer (a marker).
//
// Items are rendered lazily, when fit considers keeping them: a plan of
// tens of thousands of changes renders the few hundred that fit.
type doc struct {
	sections []*section
	// line says what a section lost: a list item ("- …\n").
	line func(c omitted) string
	// note says what the doc lost, and how to see it all.
	note func(c omitted, sections int) string
}

// A section is a heading, its items and a tail (the blank line that ends
// their list, written only after an item or a line).
type section struct {
	head, tail string
	items      []*item
	dropped    bool
}

// An item is one piece of a section. details, when set, is shown after the
// item's text when there is room; it is left out on its own (with its own
// rank, which must be higher than the item's), or with the item.
type item struct {
	rank    int
	kind    string // what the item counts as when it is left out
	details *item
	// render gives the item's markdown, once; text holds it.
	render  func() string
	text    string
	dropped bool
	owner   *item // for details, the item they belong to (set by fit)
}

// markdown is the item's text, rendered on first use.
func (it *item) markdown() string {
	if it.render != nil {
		it.text, it.render = it.render(), nil
	}
	return it.text
}

// omitted counts what was left out, by kind of item.
type omitted map[string]int

func (o omitted) any() bool {
	for _, n := range o {
		if n > 0 {
			return true
		}
	}
	return false
}

// everything counts what a section holds, as if all of it were left out:
// the longest line it could need.
func (s *section) everything() omitted {
	o := omitted{}
	for _, it := range s.items {
		o[it.kind]++
		if it.details != nil {
			o[it.details.kind]++
		}
	}
	return o
}

// lost counts what fit left out of a kept section.
func (s *section) lost() omitted {
	o := omitted{}
	for _, it := range s.items {
		switch {
		case it.dropped:
			o[it.kind]++
		case it.details != nil && it.details.dropped:
			o[it.details.kind]++
		}
	}
	return o
}

// keepOrder lists the items and details of the doc from the most wanted to
// the most expendable: by rank, then, within a rank, the first of every
// section before the second of any, and of equals those of the last
// sections first (production, last in promotion order, matters most).
// Leaving out from the end of this order is what fit does.
func (d *doc) keepOrder() []*item {
	maxRank := 0
	n := 0
	for _, s := range d.sections {
		for _, it := range s.items {
			maxRank = max(maxRank, it.rank)
			n++
			if it.details != nil {
				maxRank = max(maxRank, it.details.rank)
				n++
			}
		}
	}
	// buckets[rank][section] are the units of a rank, in section order.
	buckets := make([][][]*item, maxRank+1)
	for r := range buckets {
		buckets[r] = make([][]*item, len(d.sections))
	}
	for si, s := range d.sections {
		for _, it := range s.items {
			buckets[it.rank][si] = append(buckets[it.rank][si], it)
			if it.details != nil {
				buckets[it.details.rank][si] = append(buckets[it.details.rank][si], it.details)
			}
		}
	}
	out := make([]*item, 0, n)
	for _, bySection := range buckets {
		for nth := 0; ; nth++ {
			more := false
			for si := len(bySection) - 1; si >= 0; si-- {
				if nth < len(bySection[si]) {
					out = append(out, bySection[si][nth])
					more = true
				}
			}
			if !more {
				break
			}
		}
	}
	return out
}

// fit renders the doc in at most limit bytes, trailer included at its end,
// and reports whether it left anything out. It keeps items in keepOrder
// while they fit, and leaves out the rest; whole sections go, from the
// end, only when their headings alone do not fit.
func (d *doc) fit(limit int, trailer string) (string, bool) {
	base := 0
	for _, s := range d.sections {
		base += len(s.head) + len(s.tail)
	}
	order := d.keepOrder()
	for _, s := range d.sections {
		for _, it := range s.items {
			if it.details != nil {
				it.details.owner = it
			}
		}
	}
	// fill keeps the longest prefix of order that fits in budget.
	fill := func(budget int) bool {
		used := base
		for i, it := range order {
			if it.owner != nil && it.owner.dropped {
				it.dropped = true
				continue
			}
			t := it.markdown()
			if used+len(t) > budget {
				for _, rest := range order[i:] {
					rest.dropped = true
				}
				return false
			}
			used += len(t)
			it.dropped = false
		}
		return true
	}
	if base+len(trailer) <= limit && fill(limit-len(trailer)) {
		return d.render(trailer, false), false
	}
	// Reserve the room of the longest lines and note there can be.
	total := omitted{}
	reserve := 0
	for _, s := range d.sections {
		e := s.everything()
		reserve += len(d.line(e))
		for k, n := range e {
			total[k] += n
		}
	}
	reserve += len(d.note(total, len(d.sections)))
	budget := limit - len(trailer) - reserve
	if base <= budget {
		fill(budget)
	} else {
		// Headings alone too long (thousands of environments): nothing
		// but headings, and whole sections go from the end.
		for _, it := range order {
			it.dropped = true
		}
		for i := len(d.sections) - 1; i >= 0 && base > budget; i-- {
			base -= len(d.sections[i].head) + len(d.sections[i].tail)
			d.sections[i].dropped = true
		}
	}
	out := d.render(trailer, true)
	if len(out) > limit {
		// Only when the trailer and the note alone do not fit.
		if len(trailer) <= limit {
			return trailer, true
		}
		return "", true
	}
	return out, true
}

func (d *doc) render(trailer string, cut bool) string {
	var b strings.Builder
	total := omitted{}
	droppedSections := 0
	for _, s := range d.sections {
		if s.dropped {
			droppedSections++
			for k, n := range s.everything() {
				total[k] += n
			}
			continue
		}
		b.WriteString(s.head)
		body := b.Len()
		for _, it := range s.items {
			if it.dropped {
				continue
			}
			b.WriteString(it.markdown())
			if it.details != nil && !it.details.dropped {
				b.WriteString(it.details.markdown())
			}
		}
		if cut {
			if l := s.lost(); l.any() {
				b.WriteString(d.line(l))
				for k, n := range l {
					total[k] += n
				}
			}
		}
		// The tail ends a list: without one, it would be a stray blank line.
		if b.Len() > body {
			b.WriteString(s.tail)
		}
	}
	if cut && (total.any() || droppedSections > 0) {
		b.WriteString(d.note(total, droppedSections))
	}
	b.WriteString(trailer)
	return b.String()
}

// fitLines writes head, lines and tail in at most limit bytes, leaving out
// lines from the end (with the line more gives) when they do not all fit.
func fitLines(head string, lines []string, tail string, limit int, more func(n int) string) string {
	var b strings.Builder
	b.WriteString(head)
	budget := limit - len(head) - len(tail)
	used := 0
	for i, l := range lines {
		last := i == len(lines)-1
		if last && used+len(l) <= budget || !last && used+len(l)+len(more(len(lines)-i-1)) <= budget {
			b.WriteString(l)
			used += len(l)
			continue
		}
		if m := more(len(lines) - i); used+len(m) <= budget {
			b.WriteString(m)
		}
		break
	}
	b.WriteString(tail)
	return cutText(b.String(), limit) // only with a limit no real summary meets
}

// describe lists counts of omitted in the order of kinds, with nouns:
// "9,950 changes, 12 warnings and the field details of 300 changes".
func describe(o omitted, kinds []omissionKind) string {
	var parts []string
	for _, k := range kinds {
		if n := o[k.key]; n > 0 {
			parts = append(parts, k.phrase(n))
		}
	}
	return joinAnd(parts)
}

// omissionKind names a kind of item for people.
type omissionKind struct {
	key    string
	phrase func(n int) string
}

func nouns(key, one, many string) omissionKind {
	return omissionKind{key: key, phrase: func(n int) string { return countOf(n, one, many) }}
}

// countOf is "1 change" or "9,950 changes".
func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return thousands(n) + " " + many
}

// thousands writes n with thousands separators: 9,950.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
