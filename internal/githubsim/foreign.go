package githubsim

import (
	"context"
	"fmt"
)

// CreateForeignCheckRun is another App (appSlug, known from its first use)
// creating a queued check run on sha, as a CI service would. This App,
// subscribed to check_run, hears "created" with the other App in
// check_run.app; the run joins that App's own suite on sha. It returns the
// run's id.
func (s *Server) CreateForeignCheckRun(fullName, sha, appSlug, name string) (int64, error) {
	if appSlug == "" || appSlug == s.opts.AppSlug {
		return 0, fmt.Errorf("foreign check run: app slug %q must name another App", appSlug)
	}
	if name == "" {
		return 0, fmt.Errorf("foreign check run: empty name")
	}
	r, err := s.repo(fullName)
	if err != nil {
		return 0, err
	}
	ctx := context.Background()
	full, err := s.revParse(ctx, r.GitDir, sha)
	if err != nil || full != sha {
		return 0, fmt.Errorf("foreign check run: no commit %s in %s", sha, fullName)
	}
	s.mu.Lock()
	app := s.foreignAppLocked(appSlug)
	s.mu.Unlock()
	run := &checkRun{Name: name, HeadSHA: sha, Status: "queued", App: app}
	s.addCheckRun(ctx, r, run, app.Bot)
	return run.ID, nil
}

// UpdateForeignCheckRun moves another App's run to status "in_progress",
// or "completed" with a conclusion; completing it sends check_run
// "completed" (and check_suite "completed" when it was the last of its
// suite). A completed run is final, as on GitHub.
func (s *Server) UpdateForeignCheckRun(fullName string, runID int64, status, conclusion string) error {
	r, err := s.repo(fullName)
	if err != nil {
		return err
	}
	req := checkRunRequest{Status: &status}
	if conclusion != "" {
		req.Conclusion = &conclusion
	}
	if f, msg := validateCheckRun(&req); f != "" {
		return fmt.Errorf("foreign check run %d: %s", runID, msg)
	}
	s.mu.Lock()
	run := s.checkRunLocked(r, runID)
	switch {
	case run == nil:
		s.mu.Unlock()
		return fmt.Errorf("no check run %d in %s", runID, fullName)
	case run.App.hosted:
		s.mu.Unlock()
		return fmt.Errorf("check run %d is this App's own: update it through the REST API", runID)
	case run.Status == "completed":
		s.mu.Unlock()
		return fmt.Errorf("check run %d has completed: its status and conclusion are final", runID)
	}
	old := run.Status
	if msg := s.applyCheckRun(run, &req); msg != "" {
		run.Status = old
		s.mu.Unlock()
		return fmt.Errorf("foreign check run %d: %s", runID, msg)
	}
	cs := s.suiteByIDLocked(r, run.SuiteID)
	suiteDone := cs != nil && run.Status != old && s.refreshSuiteLocked(r, cs)
	completed := run.Status == "completed"
	bot := run.App.Bot
	s.mu.Unlock()
	if completed {
		s.emitCheckRun(r, run, "completed", bot, nil)
	}
	if suiteDone {
		s.emitCheckSuite(r, cs, "completed", bot)
	}
	return nil
}
