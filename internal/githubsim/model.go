package githubsim

import (
	"time"
)

// Permission levels of a collaborator, as GitHub names them.
const (
	PermAdmin    = "admin"
	PermMaintain = "maintain"
	PermWrite    = "write"
	PermTriage   = "triage"
	PermRead     = "read"
)

type user struct {
	Login string
	ID    int64
	Type  string // User, Bot or Organization
	Name  string
	Email string
}

type installation struct {
	ID      int64
	Account *user
	Created time.Time
}

type token struct {
	Value          string
	InstallationID int64
	Expires        time.Time
	Permissions    map[string]string
	Repos          map[int64]bool // nil: every repository of the installation
}

type repo struct {
	ID            int64
	Owner         *user
	Name          string
	Private       bool
	DefaultBranch string
	GitDir        string
	Created       time.Time
	Pushed        time.Time
	Collaborators map[string]string // login -> permission
	nextNumber    int
	Pulls         []*pull
	Comments      []*issueComment
	CheckRuns     []*checkRun
	CheckSuites   []*checkSuite
	Deployments   []*deployment
	// Statuses are the commit statuses, oldest first.
	Statuses     []*commitStatus
	Environments map[string]*environment
	Labels       []*label
	Protected    map[string]bool      // branches with protection rules
	Workflows    map[string]*workflow // by path, ids fixed at first sight
	Runs         []*workflowRun
	nextRun      int
}

func (r *repo) FullName() string { return r.Owner.Login + "/" + r.Name }

type pull struct {
	ID             int64
	Number         int
	Title, Body    string
	User           *user
	Head, Base     string
	HeadSHA        string
	BaseSHA        string
	State          string // open|closed
	Draft          bool
	Merged         bool
	MergeCommitSHA string
	MergedBy       *user
	Created        time.Time
	Updated        time.Time
	ClosedAt       *time.Time
	MergedAt       *time.Time
	Reviews        []*review
	Labels         []*label
}

type review struct {
	ID        int64
	User      *user
	Body      string
	State     string // APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING, DISMISSED
	CommitID  string
	Submitted time.Time
}

type issueComment struct {
	ID        int64
	Issue     int
	User      *user
	Body      string
	Created   time.Time
	Updated   time.Time
	ViaApp    bool
	Reactions []*reaction
}

type reaction struct {
	ID      int64
	User    *user
	Content string
	Created time.Time
}

type checkRun struct {
	ID          int64
	SuiteID     int64
	App         *ghApp
	Name        string
	HeadSHA     string
	Status      string
	Conclusion  string
	ExternalID  string
	DetailsURL  string
	Started     time.Time
	Completed   *time.Time
	Title       string
	Summary     string
	Text        string
	Annotations []map[string]any
	Actions     []map[string]any
}

type deployment struct {
	ID          int64
	SHA, Ref    string
	Task        string
	Environment string
	Description string
	Payload     any
	Creator     *user
	ViaApp      bool
	Transient   bool
	Production  bool
	Created     time.Time
	Updated     time.Time
	Statuses    []*deploymentStatus
}

type deploymentStatus struct {
	ID             int64
	State          string
	Description    string
	Environment    string
	EnvironmentURL string
	LogURL         string
	Creator        *user
	ViaApp         bool
	Created        time.Time
}
