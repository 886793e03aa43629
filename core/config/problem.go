package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Position is a place in a configuration file. Line and Column are 1-based; a zero Line
// means the problem concerns the file as a whole (e.g. it could not be read).
type Position struct {
	File   string
	Line   int
	Column int
}

// String formats the position as file:line:col, the form editors and terminals link to.
func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Problem is one error or warning found in a configuration file.
type Problem struct {
	Pos Position
	// Path is the dotted key path, e.g. "channels[0].routing.skill_id"; empty for the whole file.
	Path string
	// Message says what is wrong and what is expected. It never contains secret values.
	Message string
}

// Error formats the problem as "file:line:col: path: message".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.Pos.String())
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is the error returned when a configuration is invalid: every problem found, in
// file order. Use errors.As to get at the individual problems.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is / errors.As.
func (ps Problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// Under reports whether any problem concerns path or a key below it, e.g. Under("channels[1]").
func (ps Problems) Under(path string) bool {
	for _, p := range ps {
		if p.Path == path || strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"[") {
			return true
		}
	}
	return false
}

// Sort orders problems by position, e.g. after appending adapters' field errors.
func (ps Problems) Sort() { sortProblems(ps) }

// sortProblems orders problems by position so reports read top to bottom; the sort is stable
// so problems at the same place keep the order in which the rules found them.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
}
