package app

import (
	"context"
	"testing"
)

// TestNewerHeadSupersedesOlder: planning a newer head of a pull request
// cancels the planning of the older one; a redelivery of the head being
// planned is not planned twice; another pull request is not touched.
func TestNewerHeadSupersedesOlder(t *testing.T) {
	a := &App{inflight: map[string]inflight{}}
	repo := repoName{Owner: "kailua-gis", Name: "config"}
	ctxOld, doneOld, stale := a.supersede(context.Background(), repo, 7, "aaa")
	if stale {
		t.Fatal("the first head is stale")
	}
	ctxOther, doneOther, _ := a.supersede(context.Background(), repo, 8, "ccc")
	if _, _, stale := a.supersede(context.Background(), repo, 7, "aaa"); !stale {
		t.Error("a redelivery of the head being planned is planned again")
	}
	ctxNew, doneNew, stale := a.supersede(context.Background(), repo, 7, "bbb")
	if stale {
		t.Fatal("the newer head is stale")
	}
	if ctxOld.Err() == nil {
		t.Error("the older head's planning was not cancelled")
	}
	if ctxNew.Err() != nil || ctxOther.Err() != nil {
		t.Error("the newer head's, or another PR's, planning was cancelled")
	}
	doneOld() // the older run ends late: it must not forget the newer one
	if _, _, stale := a.supersede(context.Background(), repo, 7, "bbb"); !stale {
		t.Error("the older run's end forgot the newer head")
	}
	doneNew()
	doneOther()
	if len(a.inflight) != 0 {
		t.Errorf("in flight after every run ended: %v", a.inflight)
	}
}
