package app

import (
	"strings"
	"sync"
	"testing"

	"github.com/honua-io/honua-gitops/internal/notifytest"
	"github.com/honua-io/honua-gitops/notify"
)

// TestApprovalRequiredIsNotifiedOnce: staging's policy sends
// approval-required to Slack: the merge tells it once, with the PR and
// the /approve command; the same event handled again (another replica,
// a restart: the App keeps no state) finds the note in the pull request
// and sends nothing more.
func TestApprovalRequiredIsNotifiedOnce(t *testing.T) {
	slack := notifytest.NewSlack(t)
	secrets := slack.Secrets(nil)
	e := newE2E(t, e2eOptions{notify: &notify.Options{Secrets: secrets}})
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	e.svc.app.notifier.Wait()
	e.flush()

	// Another replica (or the App after a restart) handles the same event.
	st, err := e.svc.app.loadMerge(e.ctx, e.inst, repoName{Owner: "kailua-gis", Name: "config"}, merge)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.ev.report.Verdict("staging")
	dec := e.svc.app.decide(v, st.ev.envs["staging"], st.ev, "staging")
	e.svc.app.notifyApproval(e.ctx, st.gh, st.m, st.ev, "staging", st.deployments["staging"], dec)
	e.svc.app.notifier.Wait()

	got := slack.Messages()
	staging := 0
	for _, m := range got {
		if strings.Contains(m, "staging") && strings.Contains(m, "/approve staging") && strings.Contains(m, "/pull/") {
			staging++
		}
	}
	if staging != 1 {
		t.Errorf("%d approval-required messages for staging, want 1:\n%s", staging, strings.Join(got, "\n"))
	}
	notes := 0
	for _, c := range e.botComments(n) {
		if strings.Contains(c, "notification went out") {
			notes++
		}
	}
	if notes < 1 {
		t.Errorf("no note of the notification in the pull request")
	}
}

// TestTwoReplicasNotifyOnce: two replicas of the App handle the same
// approval-required event at the same moment, each with its own
// notifier: GitHub (the claim comments' order) lets one send it.
func TestTwoReplicasNotifyOnce(t *testing.T) {
	slack := notifytest.NewSlack(t)
	secrets := slack.Secrets(nil)
	e := newE2E(t, e2eOptions{}) // the service itself sends nothing
	n, _ := e.openPR("bike-lanes", "ana", map[string]string{"environments/common/layers/bike-lanes.yaml": bikeLanes})
	merge := e.merge(n, "bob")
	replica := func() *App {
		t.Helper()
		nf, err := notify.New(notify.Options{Secrets: secrets, Logger: e2eLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nf.Close)
		a, err := New(Config{AppID: e.sim.AppID(), BotLogin: e.sim.BotLogin(), Clients: e.svc.clients, Mirror: e.svc.mirror,
			SigningKey: e.key, Now: e.clock.Now, Notifier: nf})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	replicas := []*App{replica(), replica()}
	repo := repoName{Owner: "kailua-gis", Name: "config"}
	var wg sync.WaitGroup
	for _, a := range replicas {
		st, err := a.loadMerge(e.ctx, e.inst, repo, merge)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := st.ev.report.Verdict("staging")
		dec := a.decide(v, st.ev.envs["staging"], st.ev, "staging")
		wg.Go(func() { a.notifyApproval(e.ctx, st.gh, st.m, st.ev, "staging", st.deployments["staging"], dec) })
	}
	wg.Wait()
	for _, a := range replicas {
		a.notifier.Wait()
	}
	got := slack.Messages()
	if len(got) != 1 {
		t.Errorf("%d messages from two replicas, want 1:\n%s", len(got), strings.Join(got, "\n"))
	}
	claims, notes := 0, 0
	for _, c := range e.botComments(n) {
		if strings.Contains(c, "Sending a notification") {
			claims++
		}
		if strings.Contains(c, "notification went out") {
			notes++
		}
	}
	if claims != 0 || notes != 1 {
		t.Errorf("%d claim comments left and %d notes, want 0 and 1", claims, notes)
	}
}
