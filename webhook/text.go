package webhook

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what one response carries. The API server drops a warning
// that is not valid UTF-8 or contains control characters, and truncates
// every warning to 256 characters once a response's warnings exceed 4096;
// events.k8s.io rejects notes over 1 KiB.
const (
	maxWarnings     = 12
	maxWarningRunes = 512
	maxNoteBytes    = 1024
)

// warnings prepares findings for AdmissionResponse.Warnings: printable,
// at most maxWarningRunes each, and at most maxWarnings of them, the last
// saying how many were left out.
func warnings(msgs []string) []string {
	if len(msgs) == 0 {
		return nil
	}
	out := make([]string, 0, min(len(msgs), maxWarnings))
	for i, m := range msgs {
		if i == maxWarnings-1 && len(msgs) > maxWarnings {
			out = append(out, fmt.Sprintf("fluxgate: %d more findings not shown", len(msgs)-i))
			break
		}
		out = append(out, truncateRunes(printable(m), maxWarningRunes))
	}
	return out
}

// printable makes s valid UTF-8 and replaces control characters (line
// breaks included) with spaces.
func printable(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for _, r := range s {
		if unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// truncateRunes shortens s to at most n runes, ending in an ellipsis when
// it cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateBytes shortens s to at most n bytes on a rune boundary, ending
// in an ellipsis when it cut.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
