// Package apply puts one environment's rendered Honua metadata document in
// place on the machine Honua runs on, and never leaves Honua half-configured.
//
// Apply backs up the live document, writes the new one atomically (temporary
// file, fsync, rename, fsync of the directory), asks Honua to reload, and
// post-validates: readiness, then each added or changed collection, retried
// with a short backoff until the request's health timeout. On a failure
// after the write it restores the backup atomically, reloads and checks
// readiness (rolled-back); with RollbackOnFailure off it keeps the new
// document and says so (failed-kept); if the restore itself fails it asks
// for a person (manual).
//
// Every risky step is preceded by a write-ahead journal in the state
// directory (JournalFile). After a crash at any point, Recover reads it and
// leaves the live document byte-identical to the old one, reloaded, and
// returns the outcome to report. Recover never declares an interrupted apply
// a success unless the journal already recorded one: a new document that was
// in place but not validated is undone rather than validated afresh, because
// the validation that was interrupted may be what killed the runner, the old
// document is the last one known good, and the deployment can simply be
// queued again. While a journal is present, Apply refuses to start
// (ErrRecoveryNeeded).
//
// The package does no GitHub and no rendering; the server is reached through
// the small Honua interface that the runner implements over HTTP.
package apply
