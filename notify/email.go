package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/honua-io/honua-gitops/reconciler/config"
)

// smtpAddr reads an SMTP URL: its address and mode (smtp: STARTTLS,
// smtps: TLS, smtp+insecure: plain).
func smtpAddr(s string) (addr, mode string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return "", "", fmt.Errorf("--smtp-url %q is not a URL such as smtp://mail.example.com:587", safeURL(s))
	}
	if _, has := u.User.Password(); has {
		return "", "", errors.New("--smtp-url must not carry a password: give the credentials in the SMTP credentials file")
	}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		if port == "" {
			port = "465"
		}
	case "smtp+insecure":
		if port == "" {
			port = "25"
		}
	default:
		return "", "", fmt.Errorf("--smtp-url scheme %q: use smtp:// (STARTTLS), smtps:// (TLS) or smtp+insecure:// (plain text, tests only)", u.Scheme)
	}
	return net.JoinHostPort(u.Hostname(), port), u.Scheme, nil
}

// ReadSMTPCredentials reads the SMTP credentials file: the secrets-file
// format (NAME=value lines) with SMTP_USERNAME and SMTP_PASSWORD. Errors
// never quote the file's content.
func ReadSMTPCredentials(file string) (user, password string, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", "", fmt.Errorf("reading the SMTP credentials file: %w", err)
	}
	m, err := config.ParseSecretsFile(file, data)
	if err != nil {
		return "", "", err
	}
	user, password = m["SMTP_USERNAME"], m["SMTP_PASSWORD"]
	if user == "" || password == "" {
		return "", "", fmt.Errorf("%s: set SMTP_USERNAME=... and SMTP_PASSWORD=... (one a line)", file)
	}
	return user, password, nil
}

var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
<p>{{.Lead}}</p>
<table cellpadding="4">
{{range .Rows}}<tr><th align="left">{{.Name}}</th><td>{{if .Link}}<a href="{{.Link}}">{{.Value}}</a>{{else}}{{.Value}}{{end}}</td></tr>
{{end}}</table>
{{if .Link}}<p><a href="{{.Link}}">Open</a></p>{{end}}
<p style="color: #666">honua-gitops</p>
</body></html>
`))

type emailRow struct{ Name, Value, Link string }

// emailContent is the text of an email about ev.
func emailContent(ev Event) (lead string, rows []emailRow) {
	env := oneLine(ev.Env)
	switch ev.Kind {
	case KindApprovalRequired:
		lead = "A deployment to " + env + " is waiting for approval."
	case KindCompleted:
		lead = "The deployment to " + env + " completed."
	case KindFailed:
		lead = "The deployment to " + env + " failed."
		if ev.RolledBack {
			lead = "The deployment to " + env + " failed and was rolled back."
		}
	case KindRolledBack:
		lead = env + " was rolled back."
	case KindDriftDetected:
		lead = env + " differs from what Git says."
	}
	add := func(name, v, link string) {
		if v != "" {
			rows = append(rows, emailRow{name, v, link})
		}
	}
	add("Environment", env, "")
	add("Repository", ev.Repo, "")
	add("Commit", ev.SHA, "")
	if ev.PR > 0 {
		add("Pull request", fmt.Sprintf("#%d", ev.PR), httpLink(ev.PRURL))
	}
	add("Who", ev.Who, "")
	add("Plan", ev.Summary, "")
	add("Cause", ev.Cause, "")
	if ev.Kind == KindApprovalRequired {
		add("Who may approve", strings.Join(ev.Approvers, ", "), "")
		add("How to approve", ev.ApproveHow, "")
	}
	add("Deployment", ev.DeploymentID, "")
	return lead, rows
}

func httpLink(s string) string {
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return s
	}
	return ""
}

// buildEmail returns the message: multipart/alternative, text and HTML,
// quoted-printable; header values are kept to one line.
func buildEmail(from string, to []string, ev Event, key string, now time.Time) ([]byte, error) {
	lead, rows := emailContent(ev)
	var text strings.Builder
	text.WriteString(lead + "\n\n")
	for _, r := range rows {
		fmt.Fprintf(&text, "%s: %s\n", r.Name, r.Value)
	}
	if l := ev.link(); l != "" {
		fmt.Fprintf(&text, "\n%s\n", l)
	}
	text.WriteString("\n-- \nhonua-gitops\n")
	var html bytes.Buffer
	if err := emailHTML.Execute(&html, map[string]any{"Title": ev.title(), "Lead": lead, "Rows": rows, "Link": ev.link()}); err != nil {
		return nil, err
	}

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range []struct {
		typ  string
		data []byte
	}{{"text/plain; charset=utf-8", []byte(text.String())}, {"text/html; charset=utf-8", html.Bytes()}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {p.typ}, "Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(w)
		if _, err := qw.Write(p.data); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}

	sum := sha256.Sum256([]byte(key))
	var msg bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", "[honua-gitops] "+ev.title()))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(sum[:16])+"@honua-gitops>")
	h("MIME-Version", "1.0")
	h("Content-Type", "multipart/alternative; boundary="+mw.Boundary())
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

func (n *Notifier) sendEmail(ctx context.Context, t Target, ev Event, key string, r *redactor) error {
	if n.o.SMTPURL == "" {
		return permanent(errors.New("email: no mail server: start the sender with --smtp-url"))
	}
	if n.o.From == "" {
		return permanent(errors.New("email: no sender address: start the sender with --smtp-from"))
	}
	from, err := mail.ParseAddress(n.o.From)
	if err != nil {
		return permanent(fmt.Errorf("email: --smtp-from is not an address: %v", err))
	}
	var to []string
	for _, rc := range t.Recipients {
		v, err := r.fill("recipients", rc)
		if err != nil {
			return err
		}
		for _, a := range strings.Split(v, ",") {
			addr, err := mail.ParseAddress(strings.TrimSpace(a))
			if err != nil {
				return permanent(fmt.Errorf("email: recipient %s is not an email address", rc))
			}
			to = append(to, addr.Address)
		}
	}
	msg, err := buildEmail(from.String(), to, ev, key, n.o.Now())
	if err != nil {
		return permanent(err)
	}
	return n.smtpSend(ctx, from.Address, to, msg)
}

// smtpSend sends msg over one SMTP session. 5xx answers are permanent.
func (n *Notifier) smtpSend(ctx context.Context, from string, to []string, msg []byte) (err error) {
	addr, mode, err := smtpAddr(n.o.SMTPURL)
	if err != nil {
		return permanent(err)
	}
	defer func() {
		if err == nil {
			return
		}
		var te *textproto.Error
		if errors.As(err, &te) && te.Code >= 500 {
			err = permanent(fmt.Errorf("email: %s: %w", addr, err))
			return
		}
		err = fmt.Errorf("email: %s: %w", addr, err)
	}()
	host, _, _ := net.SplitHostPort(addr)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if n.o.TLSConfig != nil {
		tlsConf = n.o.TLSConfig.Clone()
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	if mode == "smtps" {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if mode == "smtp" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent(errors.New("the server does not offer STARTTLS: use smtps:// if it speaks TLS on connect"))
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return err
		}
	}
	if n.o.SMTPUser != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(errors.New("the server does not offer AUTH, but credentials were given"))
		}
		if err := c.Auth(smtp.PlainAuth("", n.o.SMTPUser, n.o.SMTPPassword, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, rc := range to {
		if err := c.Rcpt(rc); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
