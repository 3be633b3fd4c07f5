package store

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// A failure is a class of bucket errors: the sentinel it wraps and what to
// tell the user, per URL scheme ("" for any scheme without a hint of its own).
type failure struct {
	sentinel error
	hints    map[string]string
}

// hint is what to tell the user about a bucket of scheme.
func (f failure) hint(scheme string) string {
	if h, ok := f.hints[scheme]; ok {
		return h
	}
	return f.hints[""]
}

var (
	notFound = failure{ErrBucketNotFound, map[string]string{
		"":       "it does not exist; create it first (or check the URL and region)",
		"file":   "the folder does not exist; create it first (or check the path)",
		"gs":     "it does not exist; create it first (or check the URL; STORAGE_EMULATOR_HOST points kferry at an emulator)",
		"azblob": "the container does not exist; create it first (or check the URL and AZURE_STORAGE_ACCOUNT)",
	}}
	denied = failure{ErrAccessDenied, map[string]string{
		"":       "the credentials in use may not access it; check AWS_PROFILE/AWS_ACCESS_KEY_ID or the bucket policy",
		"gs":     "the credentials in use may not access it; check GOOGLE_APPLICATION_CREDENTIALS and the bucket's IAM roles",
		"azblob": "the credentials in use may not access it; check AZURE_STORAGE_KEY (a key of AZURE_STORAGE_ACCOUNT), the SAS token's permissions or the identity's role assignments",
		"file":   "kferry may not read or write the folder; check its permissions",
	}}
	refused = failure{ErrAccessDenied, map[string]string{
		"":       "the credentials were refused; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE",
		"gs":     "the credentials were refused; check GOOGLE_APPLICATION_CREDENTIALS (or gcloud auth application-default login)",
		"azblob": "the credentials were refused; check AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING",
	}}
	noCreds = failure{ErrAccessDenied, map[string]string{
		"": "no credentials found; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with an instance role",
	}}
	noConn = failure{ErrUnreachable, map[string]string{
		"":       "check the endpoint in the URL and the network",
		"gs":     "check STORAGE_EMULATOR_HOST, if set, and the network",
		"azblob": "check the domain= and protocol= of the URL (or AZURE_STORAGE_DOMAIN) and the network",
	}}
	silent = failure{ErrUnreachable, map[string]string{
		"": "the endpoint takes connections but sends no answer; check the endpoint in the URL, proxies and the network",
	}}
)

// apiCodes maps the error codes that S3 (and S3-compatible servers) and Azure
// Blob Storage answer with to a failure class: provider quirks as data. The
// codes of the two never collide.
var apiCodes = map[string]failure{
	// S3
	"NoSuchBucket":          notFound,
	"AccessDenied":          denied,
	"AllAccessDisabled":     denied,
	"AccountProblem":        denied,
	"InvalidAccessKeyId":    refused,
	"SignatureDoesNotMatch": refused,
	"ExpiredToken":          refused,
	"InvalidToken":          refused,
	"TokenRefreshRequired":  refused,
	// Azure Blob Storage (the x-ms-error-code header; gocloud calls only
	// AuthenticationFailed a permission error)
	"ContainerNotFound":                 notFound,
	"AuthenticationFailed":              refused,
	"InvalidAuthenticationInfo":         refused,
	"NoAuthenticationInformation":       refused,
	"AuthorizationFailure":              denied,
	"AuthorizationPermissionMismatch":   denied,
	"AuthorizationProtocolMismatch":     denied,
	"AuthorizationResourceTypeMismatch": denied,
	"AuthorizationServiceMismatch":      denied,
	"AuthorizationSourceIPMismatch":     denied,
	"InsufficientAccountPermissions":    denied,
	"AccountIsDisabled":                 denied,
}

// classify wraps err, an error about the bucket raw, with the sentinel that
// matches its service error code or its gocloud error code, with a hint for
// raw's scheme and the service's own words, on one line.
func classify(err error, raw string) error {
	f, ok := failureOf(err)
	if !ok {
		return scrub(err, raw)
	}
	return scrub(fmt.Errorf("%w: %s: %s: %s", f.sentinel, Redact(raw), f.hint(schemeOf(raw)), rootCause(err)), raw)
}

func failureOf(err error) (failure, bool) {
	if code, ok := serviceCode(err); ok {
		if f, ok := apiCodes[code]; ok {
			return f, true
		}
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		// gocloud calls a 403 from Cloud Storage NotFound, since Google's
		// answer leaves open whether the bucket exists; the credentials
		// lack a permission either way, and that is what to fix.
		switch gerr.Code {
		case http.StatusForbidden:
			return denied, true
		case http.StatusUnauthorized:
			return refused, true
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return notFound, true
	case errors.Is(err, fs.ErrPermission):
		return denied, true
	case gcerrors.Code(err) == gcerrors.NotFound:
		return notFound, true
	case gcerrors.Code(err) == gcerrors.PermissionDenied:
		return denied, true
	case strings.Contains(err.Error(), "get credentials:"):
		// The AWS SDK found no credentials anywhere in its chain.
		return noCreds, true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return noConn, true
	}
	if errors.Is(err, ErrStalled) {
		return silent, true
	}
	return failure{}, false
}

// serviceCode is the error code an S3 or Azure answer carries.
func serviceCode(err error) (string, bool) {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode(), true
	}
	var azErr *azcore.ResponseError
	if errors.As(err, &azErr) && azErr.ErrorCode != "" {
		return azErr.ErrorCode, true
	}
	return "", false
}

// rootCause returns the service's own words: the S3 error code and message,
// the Azure error code and HTTP status, or Cloud Storage's message when there
// is one, else the innermost error's message, on one line.
func rootCause(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return oneLine(api.ErrorCode() + ": " + api.ErrorMessage())
	}
	var azErr *azcore.ResponseError
	if errors.As(err, &azErr) {
		// Its Error() is a multi-line report with the request and the body.
		code := azErr.ErrorCode
		if code == "" {
			code = http.StatusText(azErr.StatusCode)
		}
		return fmt.Sprintf("%s (HTTP %d)", code, azErr.StatusCode)
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return oneLine(fmt.Sprintf("HTTP %d: %s", gerr.Code, gerr.Message))
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return oneLine(op.Error())
	}
	var stall *stallError
	if errors.As(err, &stall) {
		return stall.Error()
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return oneLine(err.Error())
		}
		err = next
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// schemeOf is the scheme of a bucket URL, "file" for a plain path.
func schemeOf(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return "file"
	}
	return strings.ToLower(scheme)
}
