package command

import "strings"

// suggest returns the command a word is a near miss of, or "": a word of
// ASCII letters (and trailing punctuation, as in "/approve,") within two
// edits of a command, or one edit for words of up to four characters,
// where two edits would make commands of everyday slash words.
func suggest(word string) string {
	if word == "" || len(word) > 16 {
		return ""
	}
	letters := strings.TrimRight(word, ".,;:!?")
	if letters == "" {
		return ""
	}
	for i := 0; i < len(letters); i++ {
		if !isLetter(letters[i]) {
			return ""
		}
	}
	limit := 2
	if len(word) <= 4 {
		limit = 1
	}
	return nearest(strings.ToLower(word), names, limit)
}

// nearest returns the candidate closest to w (ASCII case ignored) within
// limit edits, the first of equally close ones; "" when none is.
func nearest(w string, candidates []string, limit int) string {
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := distance(w, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two short strings, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
