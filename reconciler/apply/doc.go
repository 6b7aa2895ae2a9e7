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
// leaves the live document byte-identical to the old one (or to the new one,
// when the apply had already decided to keep it), reloaded, and returns the
// outcome to report. Recover never declares an interrupted apply
// a success unless the journal already recorded one: a new document that was
// in place but not validated is undone rather than validated afresh, because
// the validation that was interrupted may be what killed the runner, the old
// document is the last one known good, and the deployment can simply be
// queued again. While a journal is present, Apply refuses to start
// (ErrRecoveryNeeded).
//
// The journal (StateDir/apply-journal.json, mode 0600) is one JSON object,
// replaced atomically at each step:
//
//	{"version":1, "deploymentId":42, "env":"production", "sha":"abc123",
//	 "metadataPath":"/etc/honua/metadata.json",
//	 "oldPresent":true, "oldHash":"<sha256 hex>", "newHash":"<sha256 hex>",
//	 "backupPath":"<StateDir>/backups/20261129T090000.000000000Z-d42.json",
//	 "collections":["transport::bike-lanes"], "healthTimeoutNs":30000000000,
//	 "rollbackOnFailure":true, "step":"PostValidating", "cause":"",
//	 "outcome":"", "startedAt":"…", "steps":[{"state":"BackingUp","at":"…"}, …]}
//
// "step" is the step being entered, written before it starts. Recover
// compares the hash of the live document with oldHash and newHash to learn
// what is really in place, rather than trusting the step alone, and restores
// from the backup only if the backup's hash is oldHash.
//
// The package does no GitHub and no rendering; the server is reached through
// the small Honua interface that the runner implements over HTTP.
package apply
