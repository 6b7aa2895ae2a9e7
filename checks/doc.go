// Package checks renders a plan and its policy verdicts into what GitHub
// shows: check-run output (title, summary, text, annotations, action
// buttons) and pull-request comments, within GitHub's limits. It is pure:
// values in, values out; no network, no clock.
package checks
