package policy

import (
	"fmt"
	"strings"
	"time"
)

// data is the deployment policy as the built-in rules read it
// (data.honua.config): every field present, durations in seconds, windows
// in minutes of the local day.
func (f *File) data() map[string]any {
	envs := map[string]any{}
	for name, e := range f.Environments {
		envs[name] = e.data()
	}
	owners := f.PolicyOwners
	if owners == nil {
		owners = []string{}
	}
	return map[string]any{
		"policyOwners": owners,
		"environments": envs,
		"defaults":     f.Defaults.data(),
	}
}

func (e EnvPolicy) data() map[string]any {
	windows := make([]any, len(e.Safety.DeploymentWindows))
	for i, w := range e.Safety.DeploymentWindows {
		days := make([]any, len(w.Days))
		for j, d := range w.Days {
			days[j] = d.String()
		}
		windows[i] = map[string]any{
			"days": days, "start": w.Start, "end": w.End,
			"startTime": w.StartTime, "endTime": w.EndTime, "text": w.Text(),
		}
	}
	blackouts := make([]any, len(e.Safety.BlackoutPeriods))
	for i, b := range e.Safety.BlackoutPeriods {
		blackouts[i] = map[string]any{
			"name": b.Name, "startDate": b.StartDate, "endDate": b.EndDate,
			"reason": b.Reason, "allowEmergency": b.AllowEmergency, "strict": b.Strict,
		}
	}
	rules := make([]any, len(e.ApprovalRules))
	for i, r := range e.ApprovalRules {
		approvers := make([]any, len(r.Approvers))
		for j, a := range r.Approvers {
			approvers[j] = a
		}
		rules[i] = map[string]any{"name": r.Name, "condition": r.Condition, "reason": r.Reason, "approvers": approvers}
	}
	var promotion any
	if p := e.Promotion; p != nil {
		promotion = map[string]any{"after": p.After, "soak": HumanDuration(p.Soak), "soakSeconds": int64(p.Soak / time.Second)}
	}
	approvers := make([]any, len(e.Approvers))
	for i, a := range e.Approvers {
		approvers[i] = a
	}
	notifications := any(map[string]any{})
	if e.Notifications != nil {
		notifications = e.Notifications
	}
	return map[string]any{
		"autoApprove":           e.AutoApprove,
		"requiresValidation":    e.RequiresValidation,
		"allowBreakingChanges":  e.AllowBreakingChanges,
		"timezone":              e.Timezone,
		"approvers":             approvers,
		"minApprovals":          e.MinApprovals,
		"preventSelfApproval":   e.PreventSelfApproval,
		"approvalExpirySeconds": int64(e.ApprovalExpiry / time.Second),
		"promotion":             promotion,
		"emergencyLabel":        e.EmergencyLabel,
		"approvals":             e.Approvals,
		"largeRemoval":          e.LargeRemoval,
		"approvalRules":         rules,
		"windows":               windows,
		"blackouts":             blackouts,
		"safety": map[string]any{
			"requireBackup":      e.Safety.RequireBackup,
			"healthCheckTimeout": e.Safety.HealthCheckTimeout,
			"rollbackOnFailure":  e.Safety.RollbackOnFailure,
		},
		"notifications": notifications,
	}
}

// Text describes the window for people: "Tue–Thu 09:00–16:00".
func (w Window) Text() string {
	return daysText(w.Days) + " " + w.StartTime + "–" + w.EndTime
}

func daysText(ds []time.Weekday) string {
	if len(ds) == 7 {
		return "daily"
	}
	var parts []string
	for i := 0; i < len(ds); {
		j := i
		for j+1 < len(ds) && ds[j+1] == ds[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, ds[i].String()[:3]+"–"+ds[j].String()[:3])
		case j > i:
			parts = append(parts, ds[i].String()[:3], ds[j].String()[:3])
		default:
			parts = append(parts, ds[i].String()[:3])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// HumanDuration writes a duration the way people set it: "2h", "90m",
// "1h30m", "1d".
func HumanDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if d%time.Minute == 0 {
		s = strings.TrimSuffix(s, "0s")
	}
	if d%time.Hour == 0 {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
