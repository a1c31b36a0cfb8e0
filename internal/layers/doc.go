// Package layers holds no code: its test checks, over `go list`, that the
// packages depend on each other only in the directions docs/architecture.md
// states ("Dependency rules").
package layers
