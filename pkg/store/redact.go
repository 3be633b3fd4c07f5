package store

import (
	"fmt"
	"net/url"
	"strings"
)

// Redacted stands in for every value Redact takes out of a URL.
const Redacted = "REDACTED"

// shownParams are the URL query parameters whose values Redact shows as
// written: the gocloud.dev drivers' settings (and kferry's s3 ones), none of
// which holds a secret. Every other parameter's value, known to a driver or
// not, is shown as REDACTED: an unknown parameter is a typo as often as a
// credential put in the wrong place.
var shownParams = map[string]bool{
	// s3 (gocloud.dev/aws, s3blob, openS3)
	"region": true, "endpoint": true, "profile": true, "role": true, "hostname_immutable": true,
	"dualstack": true, "fips": true, "anonymous": true, "awssdk": true, "rate_limiter_capacity": true,
	"request_checksum_calculation": true, "response_checksum_validation": true,
	paramSSEType: true, paramKMSKeyID: true, paramAccelerate: true, paramPathStyle: true,
	paramPathStyleV1: true, paramDisableHTTPS: true,
	// gs
	"access_id": true, "universe_domain": true, "grpc": true, "zonal": true,
	// azblob
	"domain": true, "protocol": true, "cdn": true, "localemu": true, "storage_account": true,
	// file
	"create_dir": true, "metadata": true, "no_tmp_dir": true, "dir_file_mode": true, "base_url": true,
	// every driver (gocloud's URL mux)
	"prefix": true,
}

// urlParams are shown parameters whose value is itself a URL; Redact redacts
// it in turn (an endpoint may carry user:password@).
var urlParams = map[string]bool{"endpoint": true, "base_url": true}

// credentialWords mark a query parameter whose value is a credential, in the
// parameter's name lowercased without '-', '_' and '.': access_key_id,
// secret_access_key, X-Amz-Signature, sas_token, password, ...
var credentialWords = []string{"secret", "password", "passwd", "token", "credential", "signature", "accesskey", "apikey", "accountkey", "privatekey", "sessionkey"}

// credentialNames are whole parameter names (normalised as for
// credentialWords) that are credentials: Azure SAS signatures and the like.
var credentialNames = map[string]bool{"sig": true, "pwd": true, "pass": true, "auth": true, "authorization": true}

// keyFiles name files that hold keys (fileblob's and gcsblob's URL signing):
// their values are hidden, but they are no credentials themselves.
var keyFiles = map[string]bool{"secretkeypath": true, "privatekeypath": true}

// Redact returns raw fit to show in errors, logs, summaries, reports and
// metrics: userinfo (also inside an endpoint= URL) and the value of every
// query parameter that is not a known setting are replaced by REDACTED, and so
// is a fragment. It is the one function that makes a bucket URL printable;
// a URL it returns unchanged holds no secret. A plain local path (no "://") is
// shown as it is, unless it holds an '@' (a URL with user:password@ and no
// scheme). Redact never fails: what it cannot parse it does not show.
func Redact(raw string) string { return redact(raw).shown }

// redaction is what redact made of a URL.
type redaction struct {
	shown  string   // the URL fit to show
	hidden []string // every value taken out, as written and decoded, for scrubbing free text
	creds  []string // where the URL carries credentials ("user:password@", "secret_access_key=…")
}

func redact(raw string) redaction {
	var r redaction
	if !strings.Contains(raw, "://") {
		r.shown = raw
		if strings.Contains(unescapeAll(raw), "@") {
			r.shown = "<local path hidden: it holds '@'>"
			r.hidden = append(r.hidden, raw)
		}
		return r
	}
	u, err := url.Parse(raw)
	if err != nil {
		r.shown = "<unparsable URL>"
		r.hidden = append(r.hidden, raw)
		if strings.Contains(unescapeAll(raw), "@") {
			r.creds = append(r.creds, "user:password@")
		}
		return r
	}
	r.shown = r.url(u, "")
	return r
}

// url redacts u, a URL or the value of parameter in (for the messages).
func (r *redaction) url(u *url.URL, in string) string {
	if u.User != nil {
		r.hideUser(u.User)
		r.creds = append(r.creds, where("user:password@", in))
		u.User = url.User(Redacted)
	}
	if u.Opaque != "" && strings.Contains(unescapeAll(u.Opaque), "@") {
		r.hidden = append(r.hidden, u.Opaque)
		r.creds = append(r.creds, where("user:password@", in))
		u.Opaque = Redacted
	}
	u.RawQuery = r.query(u.RawQuery, in)
	fragment := u.Fragment != "" || u.RawFragment != ""
	if fragment {
		r.hide(u.EscapedFragment(), u.Fragment)
		u.Fragment, u.RawFragment = "", ""
	}
	s := u.String()
	if u.Host == "" && u.Path == "" && u.Opaque == "" && u.User == nil {
		s = strings.Replace(s, u.Scheme+":", u.Scheme+"://", 1) // mem://?x, which String writes mem:?x
	}
	if fragment {
		s += "#" + Redacted
	}
	return s
}

// query redacts a raw query pair by pair, so that the rest reads as the user
// wrote it (a URL that Redact leaves alone stays byte for byte the same) and a
// value with a broken escape, which url.Values would drop, is redacted too.
func (r *redaction) query(rawQuery, in string) string {
	if rawQuery == "" {
		return ""
	}
	pairs := strings.Split(rawQuery, "&")
	for i, pair := range pairs {
		rawKey, rawVal, hasVal := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if credentialParam(normalParam(key)) {
			r.creds = append(r.creds, where(key+"=", in))
		}
		switch {
		case !hasVal && shownParams[key]:
		case !hasVal:
			r.hide(pair, key)
			pairs[i] = Redacted
		case urlParams[key]:
			pairs[i] = rawKey + "=" + r.nested(key, rawVal)
		case !shownParams[key]:
			val, err := url.QueryUnescape(rawVal)
			if err != nil {
				val = rawVal
			}
			r.hide(rawVal, val)
			pairs[i] = rawKey + "=" + Redacted
		}
	}
	return strings.Join(pairs, "&")
}

// nested redacts the raw value of a parameter that holds a URL.
func (r *redaction) nested(key, rawVal string) string {
	val, err := url.QueryUnescape(rawVal)
	if err != nil {
		r.hide(rawVal)
		return Redacted
	}
	if !strings.Contains(val, "://") {
		if strings.Contains(unescapeAll(val), "@") {
			r.hide(rawVal, val)
			r.creds = append(r.creds, where("user:password@", key))
			return Redacted
		}
		return rawVal
	}
	u, err := url.Parse(val)
	if err != nil {
		r.hide(rawVal, val)
		if strings.Contains(unescapeAll(val), "@") {
			r.creds = append(r.creds, where("user:password@", key))
		}
		return Redacted
	}
	shown := r.url(u, key)
	if shown == val {
		return rawVal
	}
	return queryValueEscaper.Replace(shown)
}

// queryValueEscaper escapes what would end a query value or change its meaning,
// and nothing else, so that a redacted endpoint still reads as a URL.
var queryValueEscaper = strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20")

// where names a finding in the URL, or in the URL-valued parameter in.
func where(what, in string) string {
	if in == "" {
		return what
	}
	return what + " in " + in + "="
}

func (r *redaction) hideUser(u *url.Userinfo) {
	r.hide(u.Username())
	if p, ok := u.Password(); ok {
		r.hide(p, url.QueryEscape(p), url.PathEscape(p))
	}
}

// hide records values taken out of the URL. Values shorter than four bytes
// are not scrubbed from free text: they are no secret worth the name, and
// replacing every "1" of a message would garble it.
func (r *redaction) hide(values ...string) {
	for _, v := range values {
		if len(v) >= 4 {
			r.hidden = append(r.hidden, v)
		}
	}
}

// normalParam is a parameter name lowercased without '-', '_' and '.'.
func normalParam(key string) string {
	return strings.Map(func(c rune) rune {
		switch c {
		case '-', '_', '.':
			return -1
		}
		return c
	}, strings.ToLower(key))
}

// credentialParam reports whether a parameter (its normalParam name) carries
// a credential.
func credentialParam(name string) bool {
	if keyFiles[name] {
		return false
	}
	if credentialNames[name] {
		return true
	}
	for _, w := range credentialWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// unescapeAll undoes percent-escapes until nothing changes (a few rounds at
// most), so that an '@' escaped twice is still seen.
func unescapeAll(s string) string {
	for range 4 {
		next, err := url.QueryUnescape(s)
		if err != nil || next == s {
			return s
		}
		s = next
	}
	return s
}

// refuseCredentials is ErrBadURL when raw carries credentials, telling where
// they belong for its scheme, without showing them.
func refuseCredentials(raw, scheme string) error {
	r := redact(raw)
	if len(r.creds) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s carries credentials (%s); they do not belong in a URL: %s", ErrBadURL, r.shown, strings.Join(r.creds, ", "), credentialAdvice[scheme])
}

// credentialAdvice says, per scheme, where credentials come from instead.
var credentialAdvice = map[string]string{
	"s3":     "use the AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or pod role)",
	"gs":     "use application default credentials (GOOGLE_APPLICATION_CREDENTIALS, or gcloud auth application-default login)",
	"azblob": "use the environment (AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN) or the Azure credential chain",
	"file":   "a local folder takes none",
	"mem":    "an in-memory bucket takes none",
}

// scrubbed is an error whose message had secrets taken out; errors.Is and
// errors.As still see the original chain.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err on one line, with every URL of urls replaced by its
// redacted form and every value Redact hides in them removed wherever else
// the message repeats it, so that an error made from a URL never shows a
// secret.
func scrub(err error, urls ...string) error {
	msg := err.Error()
	clean := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
	for _, raw := range urls {
		r := redact(raw)
		clean = strings.ReplaceAll(clean, raw, r.shown)
		for _, v := range r.hidden {
			clean = strings.ReplaceAll(clean, v, Redacted)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}
