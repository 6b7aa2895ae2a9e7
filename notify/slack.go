package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// Slack's Block Kit limits.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
	slackButtonMax  = 75
	slackURLMax     = 3000
)

// slackMessage is an incoming webhook's payload.
type slackMessage struct {
	Text    string       `json:"text"`
	Blocks  []slackBlock `json:"blocks"`
	Channel string       `json:"channel,omitempty"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []slackText  `json:"fields,omitempty"`
	Elements []slackBlock `json:"elements,omitempty"`
	// An element of context (Text, Type mrkdwn) or of actions (a button).
	URL string `json:"url,omitempty"`
	// Text of a mrkdwn context element.
	MText string `json:"-"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// MarshalJSON writes a context element ({type: mrkdwn, text}) flat.
func (b slackBlock) MarshalJSON() ([]byte, error) {
	if b.Type == "mrkdwn" {
		return json.Marshal(slackText{Type: b.Type, Text: b.MText})
	}
	type plain slackBlock
	return json.Marshal(plain(b))
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func slackPayload(t Target, ev Event) slackMessage {
	title := ev.title()
	var body strings.Builder
	switch ev.Kind {
	case KindApprovalRequired:
		fmt.Fprintf(&body, "A deployment to *%s* is waiting for approval.", slackEscape(oneLine(ev.Env)))
		if len(ev.Approvers) > 0 {
			fmt.Fprintf(&body, "\n*Who may approve:* %s", slackEscape(strings.Join(ev.Approvers, ", ")))
		}
		if ev.ApproveHow != "" {
			fmt.Fprintf(&body, "\n*How:* %s", slackEscape(ev.ApproveHow))
		}
	case KindCompleted:
		fmt.Fprintf(&body, "The deployment to *%s* completed.", slackEscape(oneLine(ev.Env)))
	case KindFailed:
		fmt.Fprintf(&body, "The deployment to *%s* failed", slackEscape(oneLine(ev.Env)))
		if ev.RolledBack {
			body.WriteString(" and was rolled back")
		}
		body.WriteString(".")
		if ev.Cause != "" {
			fmt.Fprintf(&body, "\n*Cause:* %s", slackEscape(ev.Cause))
		}
	case KindRolledBack:
		fmt.Fprintf(&body, "*%s* was rolled back.", slackEscape(oneLine(ev.Env)))
		if ev.Cause != "" {
			fmt.Fprintf(&body, "\n*Cause:* %s", slackEscape(ev.Cause))
		}
	case KindDriftDetected:
		fmt.Fprintf(&body, "*%s* differs from what Git says.", slackEscape(oneLine(ev.Env)))
	}
	if ev.Summary != "" {
		fmt.Fprintf(&body, "\n*Plan:* %s", slackEscape(ev.Summary))
	}
	field := func(name, v string) slackText {
		return slackText{Type: "mrkdwn", Text: truncate("*"+name+"*\n"+v, slackFieldMax)}
	}
	fields := []slackText{field("Environment", slackEscape(oneLine(ev.Env)))}
	if ev.SHA != "" {
		fields = append(fields, field("Commit", "`"+slackEscape(ev.shortSHA())+"`"))
	}
	if ev.PR > 0 {
		pr := fmt.Sprintf("#%d", ev.PR)
		if strings.HasPrefix(ev.PRURL, "https://") || strings.HasPrefix(ev.PRURL, "http://") {
			pr = "<" + slackEscape(ev.PRURL) + "|" + pr + ">"
		}
		fields = append(fields, field("Pull request", pr))
	}
	if ev.Who != "" {
		fields = append(fields, field("Who", slackEscape(oneLine(ev.Who))))
	}
	if len(fields) > slackFieldsMax {
		fields = fields[:slackFieldsMax]
	}
	ctx := []string{"honua-gitops"}
	if ev.Repo != "" {
		ctx = append(ctx, slackEscape(oneLine(ev.Repo)))
	}
	if ev.DeploymentID != "" {
		ctx = append(ctx, "deployment "+slackEscape(oneLine(ev.DeploymentID)))
	}
	if !ev.At.IsZero() {
		ctx = append(ctx, ev.At.UTC().Format("2006-01-02 15:04 UTC"))
	}
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(title, slackHeaderMax), Emoji: true}},
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(body.String(), slackSectionMax)}, Fields: fields},
		{Type: "context", Elements: []slackBlock{{Type: "mrkdwn", MText: truncate(strings.Join(ctx, " · "), slackSectionMax)}}},
	}
	if link := ev.link(); link != "" && len(link) <= slackURLMax {
		label := "Open"
		if ev.Kind == KindApprovalRequired && ev.PRURL != "" && link == ev.PRURL {
			label = "Review the pull request"
		}
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []slackBlock{{
			Type: "button", Text: &slackText{Type: "plain_text", Text: truncate(label, slackButtonMax)}, URL: link,
		}}})
	}
	return slackMessage{
		Text:    truncate("[honua-gitops] "+title, slackSectionMax),
		Blocks:  blocks,
		Channel: t.Channel,
	}
}

func (n *Notifier) sendSlack(ctx context.Context, t Target, ev Event, r *redactor, test bool) error {
	u, err := r.fill("url", t.URL)
	if err != nil {
		return err
	}
	if test {
		ev.Summary = "[test] " + ev.Summary
	}
	body, err := json.Marshal(slackPayload(t, ev))
	if err != nil {
		return permanent(err)
	}
	return n.post(ctx, "slack", u, body, nil)
}
