package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type mailbox struct {
	mu       sync.Mutex
	messages []sentMail
	tls      []bool
	fail     int // answer 451 to this many DATA commands
}

type sentMail struct {
	From string
	To   []string
	Data []byte
}

type smtpSession struct {
	box    *mailbox
	conn   *smtp.Conn
	authed bool
	cur    sentMail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "honua" || pass != "m41l-pa55" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		s.authed = true
		return nil
	}), nil
}
func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = sentMail{From: from}
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.fail > 0 {
		s.box.fail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.box.tls = append(s.box.tls, isTLS)
	s.cur.Data = data
	s.box.messages = append(s.box.messages, s.cur)
	return nil
}
func (s *smtpSession) Reset()        { s.cur = sentMail{} }
func (s *smtpSession) Logout() error { return nil }

// startSMTP runs a go-smtp server on 127.0.0.1 offering STARTTLS with a
// self-signed certificate and AUTH PLAIN after it.
func startSMTP(t *testing.T, box *mailbox) (addr string, pool *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{box: box, conn: c}, nil
	}))
	s.Domain = "smtp.test"
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.AllowInsecureAuth = false
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return l.Addr().String(), pool
}

func TestEmailSTARTTLS(t *testing.T) {
	box := &mailbox{fail: 1}
	addr, pool := startSMTP(t, box)
	h := newHarness(t, map[string]string{"ONCALL": "oncall@kailua.example"}, func(o *Options) {
		o.SMTPURL = "smtp://" + addr
		o.SMTPUser, o.SMTPPassword = "honua", "m41l-pa55"
		o.From = "honua-gitops <gitops@kailua.example>"
		o.TLSConfig = &tls.Config{RootCAs: pool}
	})
	cfg := mustParse(t, map[string]any{"onDeploymentFailed": list(map[string]any{"type": "email", "recipients": []any{"gis-team@kailua.example", "${ONCALL}"}})})
	ev := sampleEvent(KindFailed)
	ev.RolledBack = true
	ev.Cause = `health check failed: <script>alert("x")</script> & more`
	ev.Env = "production\r\nBcc: attacker@evil.example"
	ledger := &MemoryLedger{}
	h.n.Send(context.Background(), cfg, ev, ledger)
	h.n.Send(context.Background(), cfg, ev, ledger)
	h.n.Wait()

	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.messages) != 1 {
		t.Fatalf("%d messages, want 1 (a 451 retried, a redelivery dropped); log:\n%s", len(box.messages), h.logs)
	}
	if !box.tls[0] {
		t.Error("the message was not sent over TLS")
	}
	m := box.messages[0]
	if m.From != "gitops@kailua.example" || strings.Join(m.To, ",") != "gis-team@kailua.example,oncall@kailua.example" {
		t.Errorf("envelope %s → %v", m.From, m.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	if _, has := msg.Header["Bcc"]; has {
		t.Error("a newline in the environment injected a header")
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.HasPrefix(subject, "[honua-gitops] production") || !strings.HasSuffix(subject, ": deployment failed (rolled back)") {
		t.Errorf("Subject = %q (%v)", subject, err)
	}
	if msg.Header.Get("Message-Id") == "" || msg.Header.Get("Date") == "" || msg.Header.Get("MIME-Version") != "1.0" {
		t.Errorf("header = %v", msg.Header)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	parts := map[string]string{}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var order []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
			t.Errorf("part encoding %q", p.Header.Get("Content-Transfer-Encoding"))
		}
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = string(b)
		order = append(order, ct)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Fatalf("parts %v, want text then HTML", order)
	}
	text, html := parts["text/plain"], parts["text/html"]
	for _, want := range []string{"failed and was rolled back", "Cause: " + ev.Cause, "Pull request: #12", "Plan: 2 to add", ev.URL} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, `href="https://github.com/kailua-gis/config/pull/12"`) {
		t.Errorf("HTML part is not escaped or lacks the PR link:\n%s", html)
	}
	if strings.Contains(h.logs.String(), "m41l-pa55") || strings.Contains(h.logs.String(), "oncall@kailua.example") {
		t.Error("a credential or a secret recipient is in the log")
	}
}

func TestEmailRefusals(t *testing.T) {
	box := &mailbox{}
	addr, pool := startSMTP(t, box)
	cfg := mustParse(t, map[string]any{"onDeploymentCompleted": list(map[string]any{"type": "email", "to": "a@kailua.example"})})
	for _, tc := range []struct {
		name  string
		tweak func(*Options)
		want  string
	}{
		{"wrong password", func(o *Options) { o.SMTPUser, o.SMTPPassword = "honua", "wrong" }, "535"},
		{"untrusted certificate", func(o *Options) { o.TLSConfig = nil; o.SMTPUser, o.SMTPPassword = "honua", "m41l-pa55" }, "certificate"},
		{"no server", func(o *Options) { o.SMTPURL = "" }, "--smtp-url"},
		{"no sender", func(o *Options) { o.From = "" }, "--smtp-from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, func(o *Options) {
				o.SMTPURL = "smtp://" + addr
				o.From = "gitops@kailua.example"
				o.TLSConfig = &tls.Config{RootCAs: pool}
				o.MaxElapsed = 10 * time.Second
				tc.tweak(o)
			})
			res := h.n.Test(context.Background(), cfg, KindCompleted, "production")
			if len(res) != 1 || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tc.want) {
				t.Fatalf("results = %+v, want an error with %q", res, tc.want)
			}
			if strings.Contains(res[0].Err.Error(), "m41l-pa55") {
				t.Error("the password is in the error")
			}
		})
	}
	if _, err := New(Options{SMTPURL: "imap://x"}); err == nil || !strings.Contains(err.Error(), "smtp://") {
		t.Errorf("New(imap) = %v", err)
	}
	if _, err := New(Options{SMTPURL: "smtp://u:pw@x"}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("New(password in URL) = %v", err)
	}
}

func TestEmailImplicitTLS(t *testing.T) {
	box := &mailbox{}
	cert, pool := selfSigned(t)
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{box: box, conn: c, authed: true}, nil
	}))
	s.Domain = "smtp.test"
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	h := newHarness(t, nil, func(o *Options) {
		o.SMTPURL = "smtps://" + l.Addr().String()
		o.From = "gitops@kailua.example"
		o.TLSConfig = &tls.Config{RootCAs: pool}
	})
	cfg := mustParse(t, map[string]any{"onDeploymentCompleted": list(map[string]any{"type": "email", "to": "a@kailua.example"})})
	if res := h.n.Test(context.Background(), cfg, KindCompleted, "production"); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("results = %+v", res)
	}
	box.mu.Lock()
	defer box.mu.Unlock()
	if len(box.messages) != 1 || !box.tls[0] {
		t.Fatalf("messages %d, tls %v", len(box.messages), box.tls)
	}
}
