package app

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v66/github"

	"github.com/honua-io/honua-gitops/app/gate"
	"github.com/honua-io/honua-gitops/checks"
)

// recordKind is the marker kind of the App's approval and rejection
// records in its PR comments.
const recordKind = "record"

// signedRecord is what a record marker holds: the record and the App's
// signature over its JSON. Anyone with write access can edit the App's
// comments, so a record counts only when its signature holds: an edited
// record is ignored.
type signedRecord struct {
	Record    recordJSON `json:"record"`
	Signature string     `json:"sig"`
}

type recordJSON struct {
	Env        string    `json:"env"`
	Login      string    `json:"login"`
	Via        string    `json:"via"`
	Kind       string    `json:"kind"`
	SHA        string    `json:"sha"`
	PlanDigest string    `json:"plan_digest"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason,omitempty"`
}

func toRecordJSON(r gate.Record) recordJSON {
	return recordJSON{Env: r.Env, Login: r.Login, Via: r.Via, Kind: r.Kind, SHA: r.SHA, PlanDigest: r.PlanDigest, At: r.At.UTC().Truncate(time.Second), Reason: r.Reason}
}

func (r recordJSON) record() gate.Record {
	return gate.Record{Env: r.Env, Login: r.Login, Via: r.Via, Kind: r.Kind, SHA: r.SHA, PlanDigest: r.PlanDigest, At: r.At, Reason: r.Reason}
}

// recordMessage is what the signature covers: a domain prefix and the
// record's JSON (Go's encoding is deterministic for a struct).
func recordMessage(repo string, pr int, r recordJSON) []byte {
	b, _ := json.Marshal(r)
	return append([]byte(fmt.Sprintf("honua-gitops record v1\n%s#%d\n", repo, pr)), b...)
}

// recordMarker is the hidden marker of records in a PR comment of the App.
func (a *App) recordMarker(repo string, pr int, rs ...gate.Record) string {
	var b strings.Builder
	for _, r := range rs {
		rj := toRecordJSON(r)
		sig := ed25519.Sign(a.key, recordMessage(repo, pr, rj))
		b.WriteString(checks.Marker(recordKind, signedRecord{Record: rj, Signature: base64.StdEncoding.EncodeToString(sig)}))
		b.WriteString("\n")
	}
	return b.String()
}

// parseRecords reads the records in the App's own comments on a PR: only
// comments written by the App's bot, and only records whose signature
// holds for this repository and PR (a record copied from another PR, or
// edited, does not count).
func (a *App) parseRecords(repo string, pr int, comments []*github.IssueComment) []gate.Record {
	pub := a.key.Public().(ed25519.PublicKey)
	var out []gate.Record
	for _, c := range comments {
		if !a.isBot(c.GetUser().GetLogin()) {
			continue
		}
		for _, m := range checks.ParseMarkers(c.GetBody()) {
			if m.Kind != recordKind {
				continue
			}
			var sr signedRecord
			if err := json.Unmarshal(m.JSON, &sr); err != nil {
				continue
			}
			sig, err := base64.StdEncoding.DecodeString(sr.Signature)
			if err != nil || !ed25519.Verify(pub, recordMessage(repo, pr, sr.Record), sig) {
				continue
			}
			out = append(out, sr.Record.record())
		}
	}
	return effective(out)
}

// comments lists a PR's comments (all pages).
func (a *App) comments(ctx context.Context, gh *github.Client, repo repoName, pr int) ([]*github.IssueComment, error) {
	var out []*github.IssueComment
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := gh.Issues.ListComments(ctx, repo.Owner, repo.Name, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("listing comments of %s#%d: %w", repo, pr, err)
		}
		out = append(out, cs...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
