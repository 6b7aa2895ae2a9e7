package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/honua-io/honua-gitops/reconciler/controller"
)

// newDeploymentCmd is `deployment`: the pull controller's deployments in
// its state store (reconciler/controller), listed, shown, approved,
// rejected and rolled back. The decisions are controller.Decide and
// controller.RequestRollback; this file only wires them.
func newDeploymentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deployment",
		Short: "List, show, approve, reject and roll back the pull controller's deployments (its --state-dir)",
		Long: `Deployment works on the pull controller's state store (--state-dir, the
controller's): it lists and shows deployments, records approvals and
rejections, and requests rollbacks, which the controller acts on within one
interval. Every flag has a HONUA_GITOPS_* variable (HONUA_GITOPS_STATE_DIR).
A refused decision exits 3 with the reason; usage and I/O errors exit 2.
See docs/controller.md.`,
	}
	cmd.AddCommand(newDeploymentListCmd(), newDeploymentShowCmd(), newDeploymentApproveCmd(),
		newDeploymentRejectCmd(), newDeploymentRollbackCmd())
	return cmd
}

// deploymentFlags are the flags the subcommands share.
type deploymentFlags struct {
	stateDir      string
	format        string
	as            string
	approversFile string
	reason        string
}

func (f *deploymentFlags) stateDirFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "the controller's state directory (required)")
}

func (f *deploymentFlags) formatFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.format, "format", "text", "output: text or json")
}

func (f *deploymentFlags) asFlag(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.as, "as", "", "your identity as the policy's approvers name it (default: the OS user)")
}

// store applies the HONUA_GITOPS_* variables, checks the common flags and
// opens the store. The CLI never bounds the history (the controller does,
// with its limit).
func (f *deploymentFlags) store(cmd *cobra.Command) (*controller.Store, error) {
	if err := applyEnv(cmd.Flags(), os.LookupEnv); err != nil {
		return nil, usageError("%w", err)
	}
	if f.stateDir == "" {
		return nil, usageError("--state-dir is required: the controller's state directory")
	}
	if cmd.Flags().Lookup("format") != nil && f.format != "text" && f.format != "json" {
		return nil, usageError("--format %q: use text or json", f.format)
	}
	return &controller.Store{Dir: f.stateDir, HistoryLimit: -1}, nil
}

// identity is who decides (--as, else the OS user) and from where
// (user@host).
func (f *deploymentFlags) identity() (by, from string, err error) {
	osUser := ""
	if u, err := user.Current(); err == nil {
		osUser = u.Username
	}
	host, _ := os.Hostname()
	by = strings.TrimSpace(f.as)
	if by == "" {
		by = osUser
	}
	if by == "" {
		return "", "", usageError("cannot tell who you are: give --as NAME")
	}
	if osUser == "" {
		osUser = "?"
	}
	return by, osUser + "@" + host, nil
}

// depStoreError maps the store's and the decisions' errors to exit codes.
func depStoreError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, controller.ErrRefused):
		return &exitError{code: exitDenied, err: err}
	default:
		return usageError("%w", err)
	}
}

func newDeploymentListCmd() *cobra.Command {
	var f deploymentFlags
	var envs []string
	cmd := &cobra.Command{
		Use:   "list --state-dir DIR [--env NAME]... [--format text|json]",
		Short: "List the deployments of every environment (or --env), newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.store(cmd)
			if err != nil {
				return err
			}
			if len(envs) == 0 {
				if envs, err = s.Envs(); err != nil {
					return usageError("--state-dir: %w", err)
				}
			}
			var recs []controller.EnvRecord
			for _, env := range envs {
				rec, err := s.Load(env)
				if err != nil {
					return depStoreError(err)
				}
				recs = append(recs, rec)
			}
			return writeDeploymentList(cmd.OutOrStdout(), recs, f.format)
		},
	}
	f.stateDirFlag(cmd)
	f.formatFlag(cmd)
	cmd.Flags().StringArrayVar(&envs, "env", nil, "an environment to list (repeatable; default: every one)")
	return cmd
}

// depSummary is a deployment in `list --format json`.
type depSummary struct {
	ID         string           `json:"id"`
	Env        string           `json:"env"`
	SHA        string           `json:"sha"`
	State      controller.State `json:"state"`
	Created    time.Time        `json:"created"`
	Author     string           `json:"author,omitempty"`
	Message    string           `json:"message,omitempty"`
	Until      *time.Time       `json:"until,omitempty"`
	Rollback   bool             `json:"rollback,omitempty"`
	RollbackOf string           `json:"rollbackOf,omitempty"`
	Approvals  int              `json:"approvals"`
	Required   int              `json:"required"`
}

type depEnvSummary struct {
	Env         string       `json:"env"`
	Current     string       `json:"current,omitempty"`
	LastGood    string       `json:"lastGood,omitempty"`
	Health      string       `json:"health,omitempty"`
	Sync        string       `json:"sync,omitempty"`
	Deployments []depSummary `json:"deployments"`
}

func depApprovals(d controller.Deployment) int {
	n := 0
	for _, x := range d.Decisions {
		if x.Kind == "approve" {
			n++
		}
	}
	return n
}

func writeDeploymentList(w io.Writer, recs []controller.EnvRecord, format string) error {
	if format == "json" {
		out := struct {
			Version      int             `json:"version"`
			Environments []depEnvSummary `json:"environments"`
		}{Version: 1, Environments: []depEnvSummary{}}
		for _, r := range recs {
			e := depEnvSummary{Env: r.Env, Current: r.Current, LastGood: r.LastGood, Health: r.Health, Sync: r.Sync, Deployments: []depSummary{}}
			for _, d := range r.Deployments {
				e.Deployments = append(e.Deployments, depSummary{ID: d.ID, Env: d.Env, SHA: d.SHA, State: d.State, Created: d.Created,
					Author: d.Author, Message: depFirstLine(d.Message), Until: d.Until, Rollback: d.Rollback, RollbackOf: d.RollbackOf,
					Approvals: depApprovals(d), Required: d.Requirement.Min})
			}
			out.Environments = append(out.Environments, e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tID\tSTATE\tSHA\tCREATED\tNOTE")
	n := 0
	for _, r := range recs {
		for _, d := range r.Deployments {
			n++
			var note []string
			if d.ID == r.Current {
				note = append(note, "current")
			}
			if d.ID == r.LastGood {
				note = append(note, "last good")
			}
			if d.Rollback {
				note = append(note, "rollback of "+depShort(d.RollbackOf))
			}
			if d.State == controller.AwaitingApproval && d.Requirement.Required {
				note = append(note, fmt.Sprintf("approvals %d/%d", depApprovals(d), max(d.Requirement.Min, 1)))
			}
			if d.Until != nil && !d.State.Final() {
				note = append(note, "blocked until "+d.Until.UTC().Format(time.RFC3339))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", depSafe(r.Env), depSafe(d.ID), d.State, depShort(d.SHA),
				d.Created.UTC().Format(time.RFC3339), strings.Join(note, ", "))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(w, "no deployments")
	}
	return nil
}

func newDeploymentShowCmd() *cobra.Command {
	var f deploymentFlags
	cmd := &cobra.Command{
		Use:   "show ID --state-dir DIR [--format text|json]",
		Short: "Show a deployment: its plan, verdict, approval requirement, state history, decisions and audit trail",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.store(cmd)
			if err != nil {
				return err
			}
			rec, d, err := s.Find(args[0])
			if err != nil {
				return depStoreError(err)
			}
			return writeDeployment(cmd.OutOrStdout(), rec, d, f.format)
		},
	}
	f.stateDirFlag(cmd)
	f.formatFlag(cmd)
	return cmd
}

func writeDeployment(w io.Writer, rec controller.EnvRecord, d controller.Deployment, format string) error {
	audit := []controller.Audit{}
	for _, a := range rec.Audit {
		if a.DeploymentID == d.ID {
			audit = append(audit, a)
		}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Env        string                `json:"env"`
			Current    bool                  `json:"current"`
			LastGood   bool                  `json:"lastGood"`
			Deployment controller.Deployment `json:"deployment"`
			Audit      []controller.Audit    `json:"audit"`
		}{rec.Env, rec.Current == d.ID, rec.LastGood == d.ID, d, audit})
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("Deployment %s\n", depSafe(d.ID))
	marks := ""
	if rec.Current == d.ID {
		marks += " (current)"
	}
	if rec.LastGood == d.ID {
		marks += " (last good)"
	}
	p("  environment  %s%s\n", depSafe(rec.Env), marks)
	p("  commit       %s\n", depSafe(d.SHA))
	if d.Base != "" {
		p("  base         %s\n", depSafe(d.Base))
	}
	if d.Author != "" {
		p("  author       %s\n", depSafe(d.Author))
	}
	if d.Message != "" {
		p("  message      %s\n", depSafe(depFirstLine(d.Message)))
	}
	if d.Rollback {
		p("  rollback of  %s\n", depSafe(d.RollbackOf))
	}
	p("  created      %s\n", ts(d.Created))
	p("  state        %s\n", d.State)
	if d.Until != nil && !d.State.Final() {
		p("  blocked until %s\n", ts(*d.Until))
	}
	p("\nPlan: %s\n", depPlanSummary(d.Plan, rec.Env))
	p("Verdict: %s\n", depVerdictSummary(d.Verdict))
	r := d.Requirement
	if r.Required || r.Min > 0 {
		from := "anyone"
		if len(r.From) > 0 {
			from = strings.Join(r.From, ", ")
		}
		self := ""
		if r.PreventSelfApproval {
			self = "; the commit's author may not approve"
		}
		p("Approval: %d of %s (%d given)%s\n", max(r.Min, 1), depSafe(from), depApprovals(d), self)
	} else {
		p("Approval: not required\n")
	}
	p("\nHistory:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range d.Transitions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ts(t.At), t.State, depSafe(t.Cause))
	}
	tw.Flush()
	if len(d.Decisions) > 0 {
		p("\nDecisions:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, x := range d.Decisions {
			by := x.By
			if len(x.Teams) > 0 {
				by += " (" + strings.Join(x.Teams, ", ") + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\tfrom %s\t%s\n", ts(x.At), x.Kind, depSafe(by), depSafe(x.From), depSafe(x.Reason))
		}
		tw.Flush()
	}
	if len(audit) > 0 {
		p("\nAudit:\n")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, a := range audit {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tfrom %s\t%s\n", ts(a.At), a.Action, depSafe(a.Who), depSafe(a.From), depSafe(a.Detail))
		}
		tw.Flush()
	}
	return nil
}

// depPlanEnv is what show reads of an environment's plan JSON.
type depPlanEnv struct {
	Name    string `json:"name"`
	Summary struct {
		Added, Modified, Removed, Breaking int
	} `json:"summary"`
	Risk    string `json:"risk"`
	Changes []struct {
		Kind     string `json:"kind"`
		ID       string `json:"id"`
		Action   string `json:"action"`
		Breaking bool   `json:"breaking"`
	} `json:"changes"`
}

// depPlanSummary reads the stored plan: an environment's entry of the plan
// JSON, or the whole document (then env's entry).
func depPlanSummary(raw json.RawMessage, env string) string {
	if len(raw) == 0 {
		return "none yet"
	}
	var doc struct {
		Environments []depPlanEnv `json:"environments"`
	}
	var pe depPlanEnv
	if err := json.Unmarshal(raw, &doc); err == nil && doc.Environments != nil {
		found := false
		for _, e := range doc.Environments {
			if e.Name == env {
				pe, found = e, true
			}
		}
		if !found {
			return "no entry for " + env + " in the stored plan"
		}
	} else if err := json.Unmarshal(raw, &pe); err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	s := pe.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d modified, %d removed, %d breaking; risk %s", s.Added, s.Modified, s.Removed, s.Breaking, depSafe(pe.Risk))
	for _, c := range pe.Changes {
		br := ""
		if c.Breaking {
			br = " (breaking)"
		}
		fmt.Fprintf(&b, "\n  %s %s %s%s", depSafe(c.Action), depSafe(c.Kind), depSafe(c.ID), br)
	}
	return b.String()
}

func depVerdictSummary(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "none yet"
	}
	var v struct {
		Allow bool `json:"allow"`
		Deny  []struct {
			Rule    string     `json:"rule"`
			Message string     `json:"message"`
			Until   *time.Time `json:"until"`
		} `json:"deny"`
		Warn []struct {
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"warn"`
		PolicyDigest string `json:"policy_digest"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "unreadable (" + err.Error() + ")"
	}
	var b strings.Builder
	if v.Allow {
		b.WriteString("allowed")
	} else {
		b.WriteString("denied")
	}
	if v.PolicyDigest != "" {
		fmt.Fprintf(&b, " (policy %s)", depShort(v.PolicyDigest))
	}
	for _, d := range v.Deny {
		fmt.Fprintf(&b, "\n  deny %s: %s", depSafe(d.Rule), depSafe(d.Message))
		if d.Until != nil {
			fmt.Fprintf(&b, " (until %s)", d.Until.UTC().Format(time.RFC3339))
		}
	}
	for _, d := range v.Warn {
		fmt.Fprintf(&b, "\n  warn %s: %s", depSafe(d.Rule), depSafe(d.Message))
	}
	return b.String()
}

func newDeploymentApproveCmd() *cobra.Command {
	var f deploymentFlags
	cmd := &cobra.Command{
		Use:   "approve ID --state-dir DIR [--as NAME] [--approvers-file FILE] [--reason TEXT]",
		Short: "Approve a deployment awaiting approval, as one of the policy's approvers",
		Long: `Approve records your approval of a deployment awaiting approval; the
controller counts it within one interval. You are --as NAME or the OS user,
checked against the policy's approvers: logins case-insensitively, org/team
entries through --approvers-file (GitHub teams cannot be resolved here).
Refused (exit 3, with the reason): a deployment that is finished,
superseded, blocked by a gate of time, not yet judged, or that needs no
approval; an identity that is not an approver; the commit's author when the
policy prevents self-approval; a second decision of the same person.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return depDecide(cmd, &f, args[0], "approve")
		},
	}
	f.stateDirFlag(cmd)
	f.asFlag(cmd)
	cmd.Flags().StringVar(&f.approversFile, "approvers-file", "", "YAML file mapping org/team entries to members and identities to commit-author aliases (docs/controller.md)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "a note kept with the approval")
	return cmd
}

func newDeploymentRejectCmd() *cobra.Command {
	var f deploymentFlags
	cmd := &cobra.Command{
		Use:   "reject ID --reason TEXT --state-dir DIR [--as NAME] [--approvers-file FILE]",
		Short: "Reject a deployment that has not started: it ends Rejected",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return depDecide(cmd, &f, args[0], "reject")
		},
	}
	f.stateDirFlag(cmd)
	f.asFlag(cmd)
	cmd.Flags().StringVar(&f.approversFile, "approvers-file", "", "YAML file mapping org/team entries to members (docs/controller.md)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why (required)")
	return cmd
}

func depDecide(cmd *cobra.Command, f *deploymentFlags, id, kind string) error {
	s, err := f.store(cmd)
	if err != nil {
		return err
	}
	if kind == "reject" && strings.TrimSpace(f.reason) == "" {
		return usageError("--reason is required: say why")
	}
	teams, err := controller.LoadApprovers(f.approversFile)
	if err != nil {
		return usageError("--approvers-file: %w", err)
	}
	by, from, err := f.identity()
	if err != nil {
		return err
	}
	rec, _, err := s.Find(id)
	if err != nil {
		return depStoreError(err)
	}
	var d controller.Deployment
	err = s.Update(rec.Env, func(r *controller.EnvRecord) error {
		if err := controller.Decide(r, id, kind, by, teams, f.reason, from, s.NowTime()); err != nil {
			return err
		}
		d = *r.Get(id)
		return nil
	})
	if err != nil {
		return depStoreError(err)
	}
	w := cmd.OutOrStdout()
	if kind == "reject" {
		fmt.Fprintf(w, "rejected %s as %s: %s\n", d.ID, by, f.reason)
		return nil
	}
	fmt.Fprintf(w, "approved %s as %s (%d of %d approvals): the controller acts on it within one interval\n",
		d.ID, by, depApprovals(d), max(d.Requirement.Min, 1))
	return nil
}

func newDeploymentRollbackCmd() *cobra.Command {
	var f deploymentFlags
	var env, to string
	cmd := &cobra.Command{
		Use:   "rollback --env NAME --state-dir DIR [--to SHA] [--as NAME]",
		Short: "Request a rollback of an environment to its last good deployment before the current one (or --to SHA)",
		Long: `Rollback records a rollback request in the controller's store: a new
deployment of --to SHA (default: the last good commit before the current
one) marked as the rollback of the current commit; the controller picks it
up within one interval and takes it through its states. Refused (exit 3)
when nothing is deployed, there is nothing to roll back to, --to is the
current commit, or a rollback is already open.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := f.store(cmd)
			if err != nil {
				return err
			}
			if env == "" {
				return usageError("--env is required")
			}
			if err := controller.CheckEnvName(env); err != nil {
				return usageError("--env: %w", err)
			}
			if _, err := os.Stat(s.Path(env)); err != nil {
				return usageError("--env %s: the controller has no state for it in %s", env, s.Dir)
			}
			by, from, err := f.identity()
			if err != nil {
				return err
			}
			var d controller.Deployment
			err = s.Update(env, func(r *controller.EnvRecord) error {
				d, err = controller.RequestRollback(r, to, by, from, s.NowTime())
				return err
			})
			if err != nil {
				return depStoreError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "requested %s: %s (by %s); the controller acts on it within one interval\n", d.ID, d.Message, by)
			return nil
		},
	}
	f.stateDirFlag(cmd)
	f.asFlag(cmd)
	cmd.Flags().StringVar(&env, "env", "", "the environment to roll back (required)")
	cmd.Flags().StringVar(&to, "to", "", "the commit to go back to (default: the last good one before the current)")
	return cmd
}

func depFirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func depShort(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// depSafe writes control characters of stored text (commit messages,
// authors, reasons) as escapes, so that they cannot move the terminal.
func depSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e || r == 0x202d || r == 0x2066 || r == 0x2067 || r == 0x2068 || r == 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
