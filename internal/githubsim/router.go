package githubsim

import (
	"net/http"
	"sort"
	"strings"
)

// router matches GitHub's path templates. GitHub's paths overlap in ways
// http.ServeMux refuses (issues/comments/{id} vs issues/{number}/comments),
// so templates with more literal segments win, as in GitHub's router.
type router struct {
	routes []*route
}

type route struct {
	method  string
	pattern string
	segs    []string
	h       http.HandlerFunc
}

func (rt *router) HandleFunc(pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	rt.routes = append(rt.routes, &route{method: method, pattern: pattern, segs: strings.Split(strings.Trim(path, "/"), "/"), h: h})
	sort.SliceStable(rt.routes, func(i, j int) bool { return literalCount(rt.routes[i].segs) > literalCount(rt.routes[j].segs) })
}

// Handler returns the route for r, with r's path values set, and its pattern
// ("" when nothing matches).
func (rt *router) Handler(r *http.Request) (http.HandlerFunc, string) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	for _, ro := range rt.routes {
		if ro.method != r.Method || !segCountOK(ro.segs, segs) {
			continue
		}
		ok := true
		for i, s := range ro.segs {
			if strings.HasPrefix(s, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		for i, s := range ro.segs {
			if strings.HasPrefix(s, "{") {
				v := segs[i]
				if s == "{path}" && i == len(ro.segs)-1 {
					v = strings.Join(segs[i:], "/")
				}
				r.SetPathValue(strings.Trim(s, "{}"), v)
			}
		}
		return ro.h, ro.pattern
	}
	return nil, ""
}

// segCountOK matches segment counts; a trailing {path} (GitHub's contents
// API) takes one or more segments.
func segCountOK(tmpl, segs []string) bool {
	if n := len(tmpl); n > 0 && tmpl[n-1] == "{path}" {
		return len(segs) >= n
	}
	return len(tmpl) == len(segs)
}
