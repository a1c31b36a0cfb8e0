package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
)

// Buyer pages are plain server-rendered forms: they work in a browser
// without JavaScript, and a test "clicks" a button by POSTing the same form.

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Strait sandbox</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:2rem}
main{max-width:28rem;margin:auto;background:#fff;border-radius:8px;padding:1.5rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.25rem;margin-top:0}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{color:#666}
dd{margin:0}
label{display:block;margin:.5rem 0}
input{width:100%;padding:.4rem;box-sizing:border-box}
button{padding:.5rem 1.2rem;margin:.75rem .5rem 0 0;border-radius:4px;border:1px solid #888;cursor:pointer}
.note{color:#666;font-size:.85rem}
</style>
</head>
<body><main>
<h1>{{.Title}}</h1>
{{with .Intro}}<p>{{.}}</p>{{end}}
{{with .Facts}}<dl>{{range .}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>{{end}}
{{if .Buttons}}<form method="post">
{{range .Fields}}<label>{{.Label}}<input name="{{.Name}}" value="{{.Value}}"></label>
{{end}}{{range .Buttons}}<button type="submit" name="action" value="{{index . 0}}">{{index . 1}}</button>
{{end}}</form>{{end}}
<p class="note">Strait sandbox: a simulation. No real money moves.</p>
</main></body>
</html>
`))

type pageField struct {
	Name, Label, Value string
}

type pageData struct {
	Title   string
	Intro   string
	Facts   [][2]string
	Fields  []pageField
	Buttons [][2]string
}

func (s *Server) renderPage(w http.ResponseWriter, status int, p pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, p); err != nil {
		s.log.Error("render page", "title", p.Title, "err", err)
	}
}

func (s *Server) pageNotFound(w http.ResponseWriter, what string) {
	s.renderPage(w, http.StatusNotFound, pageData{Title: "Not found", Intro: "There is no such " + what + "."})
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("buyer page failed", "path", r.URL.Path, "err", err)
	s.renderPage(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Intro: "The sandbox could not record your answer."})
}

// formAction reads the "action" field of a posted buyer form; it answers
// 400 itself and returns "" when the value is not one of allowed.
func (s *Server) formAction(w http.ResponseWriter, r *http.Request, allowed ...string) string {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err == nil {
		a := r.PostForm.Get("action")
		for _, v := range allowed {
			if a == v {
				return a
			}
		}
	}
	s.renderPage(w, http.StatusBadRequest, pageData{Title: "Bad request", Intro: "Choose one of the buttons on the page."})
	return ""
}

// redirectBuyer sends the buyer back to the merchant with the result in the
// query string. It reports false, having done nothing, when there is nowhere
// to go.
func redirectBuyer(w http.ResponseWriter, r *http.Request, target string, params url.Values) bool {
	if target == "" {
		return false
	}
	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
	return true
}

// challengeOver tells the buyer why a challenge takes no answer any more.
func challengeOver(p cardPayment) string {
	if p.State == stateVoided && p.DeclineCode == "canceled" {
		return "The merchant canceled this payment: there is nothing to confirm."
	}
	return "This challenge is already complete: the payment is " + p.Status + "."
}

func (s *Server) handleChallengePage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.st.cards[r.PathValue("id")]
	var p cardPayment
	if ok {
		p = rec.cardPayment
	}
	s.mu.Unlock()
	if !ok || p.ThreeDS.Flow != "challenge" {
		s.pageNotFound(w, "3-D Secure challenge")
		return
	}
	data := pageData{
		Title: "3-D Secure verification",
		Facts: [][2]string{
			{"Merchant reference", p.MerchantReference},
			{"Amount", formatMinor(p.Amount, p.Currency)},
			{"Card", p.Card.Brand + " •••• " + p.Card.Last4},
		},
	}
	if p.State == stateRequiresAction {
		data.Intro = "Your bank asks you to confirm this payment."
		data.Buttons = [][2]string{{"approve", "Approve"}, {"fail", "Fail"}}
	} else {
		data.Intro = challengeOver(p)
	}
	s.renderPage(w, http.StatusOK, data)
}

func (s *Server) handleChallengeSubmit(w http.ResponseWriter, r *http.Request) {
	act := s.formAction(w, r, "approve", "fail")
	if act == "" {
		return
	}
	s.mu.Lock()
	rec, ok := s.st.cards[r.PathValue("id")]
	if !ok || rec.ThreeDS.Flow != "challenge" {
		s.mu.Unlock()
		s.pageNotFound(w, "3-D Secure challenge")
		return
	}
	changed, err := s.completeChallenge(rec, act == "approve")
	p, returnURL := rec.cardPayment, rec.ReturnURL
	s.mu.Unlock()
	switch {
	case err != nil:
		s.pageError(w, r, err)
	case !changed:
		s.renderPage(w, http.StatusConflict, pageData{Title: "Already complete", Intro: challengeOver(p)})
	case !redirectBuyer(w, r, returnURL, url.Values{"payment_id": {p.ID}, "status": {p.Status}}):
		s.renderPage(w, http.StatusOK, pageData{Title: "Verification complete",
			Intro: "The payment is " + p.Status + ". You can close this page."})
	}
}
