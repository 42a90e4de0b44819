package authz

import (
	"fmt"
	"strings"
)

type patternKind uint8

const (
	matchExact patternKind = iota
	matchPrefix
	matchSuffix
	matchPresent
)

// pattern is Istio's string match: "abc" exact, "abc*" prefix, "*abc"
// suffix, "*" any non-empty value.
type pattern struct {
	kind patternKind
	s    string
	// fold compares ASCII case-insensitively (hosts); s is then lower case.
	fold bool
}

func compilePattern(v string, fold bool) (pattern, error) {
	if v == "" {
		return pattern{}, fmt.Errorf("empty value")
	}
	if fold {
		v = strings.ToLower(v)
	}
	p := pattern{fold: fold}
	switch {
	case v == "*":
		p.kind = matchPresent
	case strings.HasSuffix(v, "*"):
		p.kind, p.s = matchPrefix, v[:len(v)-1]
	case strings.HasPrefix(v, "*"):
		p.kind, p.s = matchSuffix, v[1:]
	default:
		p.kind, p.s = matchExact, v
	}
	if strings.Contains(p.s, "*") {
		return pattern{}, fmt.Errorf("%q: '*' is a wildcard only at the start or the end", v)
	}
	return p, nil
}

func (p *pattern) match(v string) bool {
	return p.matchParts(joined{one: v})
}

// joined is a string made of parts, optionally separated by sep, matched
// without concatenating them (so matching never allocates). A single value
// is carried in one, to spare the caller a slice.
type joined struct {
	one   string
	parts []string
	sep   string
}

func (j joined) n() int {
	if j.parts == nil {
		return 1
	}
	return len(j.parts)
}

func (j joined) part(i int) string {
	if j.parts == nil {
		return j.one
	}
	return j.parts[i]
}

func (j joined) len() int {
	if j.parts == nil {
		return len(j.one)
	}
	n := 0
	for _, s := range j.parts {
		n += len(s)
	}
	if len(j.parts) > 1 {
		n += len(j.sep) * (len(j.parts) - 1)
	}
	return n
}

func (p *pattern) matchParts(j joined) bool {
	switch p.kind {
	case matchPresent:
		return j.len() > 0
	case matchExact:
		return j.len() == len(p.s) && j.hasPrefix(p.s, p.fold)
	case matchPrefix:
		return j.hasPrefix(p.s, p.fold)
	default:
		return j.hasSuffix(p.s, p.fold)
	}
}

func equal(a, b string, fold bool) bool {
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// hasPrefix reports whether the joined string starts with s.
func (j joined) hasPrefix(s string, fold bool) bool {
	for i := 0; i < j.n() && s != ""; i++ {
		if i > 0 {
			if !consume(&s, j.sep, fold, true) {
				return false
			}
		}
		if !consume(&s, j.part(i), fold, true) {
			return false
		}
	}
	return s == ""
}

// hasSuffix reports whether the joined string ends with s.
func (j joined) hasSuffix(s string, fold bool) bool {
	for i := j.n() - 1; i >= 0 && s != ""; i-- {
		if !consume(&s, j.part(i), fold, false) {
			return false
		}
		if i > 0 && !consume(&s, j.sep, fold, false) {
			return false
		}
	}
	return s == ""
}

// consume removes piece from the front (or back) of *s. When *s is shorter
// than piece, it must be a prefix (suffix) of piece, and *s becomes empty.
func consume(s *string, piece string, fold, front bool) bool {
	n := min(len(*s), len(piece))
	if front {
		if !equal((*s)[:n], piece[:n], fold) {
			return false
		}
		*s = (*s)[n:]
		return true
	}
	if !equal((*s)[len(*s)-n:], piece[len(piece)-n:], fold) {
		return false
	}
	*s = (*s)[:len(*s)-n]
	return true
}

func anyPattern(ps []pattern, v string) bool {
	for i := range ps {
		if ps[i].match(v) {
			return true
		}
	}
	return false
}

func anyPatternParts(ps []pattern, j joined) bool {
	for i := range ps {
		if ps[i].matchParts(j) {
			return true
		}
	}
	return false
}
