package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// S3 retries and timeouts. Every S3 call kferry makes (gocloud's s3blob driver
// and its transfer manager, which splits objects of 16 MiB and more into
// multipart uploads) goes through one *s3.Client built here, so these settings
// are the single place where faults of the object store are absorbed.
const (
	// S3MaxAttempts bounds the attempts of one S3 call (the first included).
	// The SDK retries 500/502/503/504, SlowDown and the other throttling codes,
	// RequestTimeout, connection errors (refused, reset, broken pipe) and
	// timeouts. AWS_MAX_ATTEMPTS overrides it, as in the AWS CLI.
	S3MaxAttempts = 10
	// s3Backoff and s3ThrottleBackoff are the bases of the backoff: retry n
	// waits uniformly in [0, min(base·2^(n-1), s3MaxBackoff)) (full jitter).
	// Throttling (SlowDown) backs off from the higher base, as S3 asks. Nine
	// retries sleep at most about 43 s (65 s when throttled), half that on
	// average.
	s3Backoff         = 200 * time.Millisecond
	s3ThrottleBackoff = time.Second
	s3MaxBackoff      = 10 * time.Second
	// s3DialTimeout and s3TLSTimeout bound connecting to the endpoint.
	s3DialTimeout = 10 * time.Second
	s3TLSTimeout  = 10 * time.Second
	// DefaultStallTimeout is how long a connection may move no byte in either
	// direction while a request is in flight (body being sent, response awaited
	// or being read) before the attempt fails and is retried on a new
	// connection. KFERRY_S3_STALL_TIMEOUT overrides it.
	DefaultStallTimeout = 30 * time.Second
	// s3AbortTimeout bounds the AbortMultipartUpload that cleans up a failed
	// or cancelled upload; it runs even when the upload's context is done.
	s3AbortTimeout = 30 * time.Second
	// s3CheckAttempts is the attempts of Check's one call: a wrong endpoint
	// fails in seconds, while a passing 503 is still retried.
	s3CheckAttempts = 5
	// s3BodyResumes bounds how often a GetObject body that breaks (reset,
	// stall) is resumed with a ranged GET without a byte of progress between.
	s3BodyResumes = 5
)

// StallTimeoutEnv names the environment variable that overrides
// DefaultStallTimeout (a Go duration such as "10s").
const StallTimeoutEnv = "KFERRY_S3_STALL_TIMEOUT"

// The URL query parameters s3blob's own URL opener takes on top of
// gocloud.dev/aws's (region, endpoint, profile, …); openS3 keeps all of them
// working.
const (
	paramSSEType      = "ssetype"
	paramKMSKeyID     = "kmskeyid"
	paramAccelerate   = "accelerate"
	paramPathStyle    = "use_path_style"
	paramPathStyleV1  = "s3ForcePathStyle"
	paramDisableHTTPS = "disable_https"
	paramRateLimit    = "rate_limiter_capacity"
)

// openS3 opens an s3:// URL as s3blob's URL opener does (same parameters, same
// credential chain), but with an *s3.Client of our own: bounded retries with
// jittered exponential backoff, per-call timeouts, stall detection, GetObject
// bodies that resume after a broken connection, and multipart uploads that are
// aborted even when their context was cancelled, and completions whose
// answer was lost confirmed (confirmComplete). With lock enabled, every upload
// gets its retention and a checksum, and the bucket is asked first whether it
// has Object Lock.
func openS3(ctx context.Context, u *url.URL, lock ObjectLock) (*blob.Bucket, error) {
	q := u.Query()
	bopts, copts, err := s3blobParams(u, q)
	if err != nil {
		return nil, err
	}
	cfg, err := s3Config(ctx, u, q, lock)
	if err != nil {
		return nil, err
	}

	var client *s3.Client
	self := func() *s3.Client { return client }
	copts = append(copts, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, detachAbort, resumeBodies(self), confirmComplete(self))
		if lock.Enabled() {
			o.APIOptions = append(o.APIOptions, lockWrites(lock))
		}
	})
	client = s3.NewFromConfig(cfg, copts...)
	if lock.Enabled() {
		if err := checkObjectLock(ctx, client, u.Host); err != nil {
			return nil, err // OpenWith says which bucket
		}
	}
	// The transfer manager takes the checksum setting from the bucket options,
	// not from the client (see s3blob's URLOpener).
	bopts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, client, u.Host, &bopts)
}

// s3blobParams takes s3blob's own URL parameters (encryption, accelerate,
// HTTPS, path style) out of q, as bucket and client options.
func s3blobParams(u *url.URL, q url.Values) (s3blob.Options, []func(*s3.Options), error) {
	var bopts s3blob.Options
	var copts []func(*s3.Options)
	if v := q.Get(paramSSEType); v != "" {
		q.Del(paramSSEType)
		sse, ok := sseType(v)
		if !ok {
			return bopts, nil, fmt.Errorf("open bucket %v: %q is not a valid value for %q", u, v, paramSSEType)
		}
		bopts.EncryptionType = sse
	}
	if v := q.Get(paramKMSKeyID); v != "" {
		q.Del(paramKMSKeyID)
		bopts.KMSEncryptionID = v
	}
	bools := []struct {
		key string
		set func(o *s3.Options, v bool)
	}{
		{paramAccelerate, func(o *s3.Options, v bool) { o.UseAccelerate = v }},
		{paramDisableHTTPS, func(o *s3.Options, v bool) { o.EndpointOptions.DisableHTTPS = v }},
		{paramPathStyle, func(o *s3.Options, v bool) { o.UsePathStyle = v }},
		{paramPathStyleV1, func(o *s3.Options, v bool) { o.UsePathStyle = v }},
	}
	for _, p := range bools {
		raw := q.Get(p.key)
		if raw == "" {
			continue
		}
		q.Del(p.key)
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return bopts, nil, fmt.Errorf("open bucket %v: invalid value for %q: %w", u, p.key, err)
		}
		copts = append(copts, func(o *s3.Options) { p.set(o, v) })
	}
	return bopts, copts, nil
}

// s3Config is the AWS config of the remaining parameters (gocloud.dev/aws's)
// with kferry's retryer, logger and HTTP client, and checksums on every
// request when lock is enabled.
func s3Config(ctx context.Context, u *url.URL, q url.Values, lock ObjectLock) (aws.Config, error) {
	limiter, err := retryLimiter(q.Get(paramRateLimit)) // gcaws validates and consumes it too
	if err != nil {
		return aws.Config{}, fmt.Errorf("open bucket %v: %w", u, err)
	}
	stall, err := stallTimeout()
	if err != nil {
		return aws.Config{}, err
	}
	attempts, err := maxAttempts()
	if err != nil {
		return aws.Config{}, err
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return aws.Config{}, fmt.Errorf("open bucket %v: %w", u, err)
	}
	cfg.Retryer = func() aws.Retryer { return newRetryer(attempts, limiter) }
	cfg.Logger, cfg.ClientLogMode = sdkLogger{}, cfg.ClientLogMode|aws.LogRetries
	cfg.HTTPClient = httpClient(cfg.HTTPClient, stall)

	if lock.Enabled() {
		// S3 refuses an upload with retention that carries neither Content-MD5
		// nor a checksum header, so AWS_REQUEST_CHECKSUM_CALCULATION=when_required
		// cannot apply here.
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	}
	return cfg, nil
}

func sseType(v string) (types.ServerSideEncryption, bool) {
	for _, t := range types.ServerSideEncryptionAes256.Values() {
		if strings.EqualFold(string(t), v) {
			return t, true
		}
	}
	return "", false
}

// retryLimiter is the SDK's retry token bucket: none unless the URL asks for
// one. The SDK's default bucket (500 tokens, 5 per retry) would turn a long run
// against a store that sheds 20% of requests into hard failures after about a
// hundred retries, which is what a batch tool must not do.
func retryLimiter(capacity string) (retry.RateLimiter, error) {
	if capacity == "" {
		return ratelimit.None, nil
	}
	n, err := strconv.ParseUint(capacity, 10, 31)
	if err != nil {
		return nil, fmt.Errorf("invalid value for %q: %w", paramRateLimit, err)
	}
	if n == 0 {
		return ratelimit.None, nil
	}
	return ratelimit.NewTokenRateLimit(uint(n)), nil
}

func stallTimeout() (time.Duration, error) {
	raw := os.Getenv(StallTimeoutEnv)
	if raw == "" {
		return DefaultStallTimeout, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 30s", StallTimeoutEnv, raw)
	}
	return d, nil
}

// maxAttempts is S3MaxAttempts, or AWS_MAX_ATTEMPTS when set. (The AWS config
// loader ignores AWS_MAX_ATTEMPTS once a retryer is given, as gocloud does.)
func maxAttempts() (int, error) {
	raw := os.Getenv("AWS_MAX_ATTEMPTS")
	if raw == "" {
		return S3MaxAttempts, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("AWS_MAX_ATTEMPTS=%q: want a positive number", raw)
	}
	return n, nil
}

// newRetryer is the SDK's standard retryer (its retryable and throttle
// checks) with kferry's attempts and backoff.
func newRetryer(attempts int, limiter retry.RateLimiter) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = attempts
		o.MaxBackoff = s3MaxBackoff
		o.RateLimiter = limiter
		o.Backoff = jitterBackoff{throttle: retry.IsErrorThrottles(o.Throttles)}
		// A response cut short (the connection dropped while its body was read)
		// is a transient fault like a reset before it.
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return aws.TrueTernary
			}
			return aws.UnknownTernary
		}))
	})
}

// jitterBackoff is exponential backoff with full jitter: attempt n (1 for the
// first retry) waits uniformly in [0, min(max, base·2^(n-1))).
type jitterBackoff struct{ throttle retry.IsErrorThrottle }

func (j jitterBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	base := s3Backoff
	if j.throttle != nil && j.throttle.IsErrorThrottle(err) == aws.TrueTernary {
		base = s3ThrottleBackoff
	}
	return backoffDelay(base, attempt, rand.Float64()), nil //nolint:gosec // G404: retry jitter, not a secret
}

// backoffDelay is the delay before retry attempt (1 for the first retry) from
// base, for r uniform in [0, 1).
func backoffDelay(base time.Duration, attempt int, r float64) time.Duration {
	ceiling := s3MaxBackoff
	if attempt < 1 {
		attempt = 1
	}
	if shift := attempt - 1; shift < 16 && base<<shift < ceiling {
		ceiling = base << shift
	}
	return time.Duration(r * float64(ceiling))
}

// httpClient returns the SDK's client (keeping what the AWS config set on it,
// such as AWS_CA_BUNDLE) with kferry's timeouts: dial and TLS handshake,
// response headers, and a stall timeout on every read and write of a
// connection. HTTP/2 is off, so that the deadlines of a connection belong to
// one request at a time (S3 speaks HTTP/1.1).
func httpClient(base aws.HTTPClient, stall time.Duration) aws.HTTPClient {
	bc, ok := base.(*awshttp.BuildableClient)
	if !ok {
		bc = awshttp.NewBuildableClient()
	}
	return bc.WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = s3DialTimeout
	}).WithTransportOptions(func(tr *http.Transport) {
		tr.TLSHandshakeTimeout = s3TLSTimeout
		// Twice the stall timeout: a server that sends nothing trips the stall
		// timeout first, with its clearer error; this one bounds a server that
		// trickles bytes without ever completing the headers.
		tr.ResponseHeaderTimeout = 2 * stall
		// Idle connections are closed before their read deadline would fire.
		tr.IdleConnTimeout = min(90*time.Second, stall/2)
		tr.MaxIdleConnsPerHost = 32
		tr.ForceAttemptHTTP2 = false
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &stallConn{Conn: c, timeout: stall}, nil
		}
	})
}

// sdkLogger sends the AWS SDK's messages to slog.Default() at debug level:
// its notices ("Skipped validation of multipart checksum" on every GET of a
// multipart object) would otherwise be printed to stderr in its own format,
// between kferry's structured logs. With LogRetries it also tells each retry.
type sdkLogger struct{}

func (sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	slog.Debug("aws sdk: "+fmt.Sprintf(format, v...), "classification", string(c))
}

// detachAbort lets AbortMultipartUpload run when the upload's context is
// already cancelled: kferry cancels the context of an object it gives up on, and
// the transfer manager then aborts the upload with that same context, which
// would leave the upload's parts in the bucket.
func detachAbort(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kferryDetachAbort",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*s3.AbortMultipartUploadInput); ok {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), s3AbortTimeout)
				defer cancel()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

// limitCheckAttempts is a ListOptions.BeforeList that lowers the attempts of
// Check's call on S3.
func limitCheckAttempts(as func(any) bool) error {
	var opts *[]func(*s3.Options)
	if as(&opts) {
		*opts = append(*opts, func(o *s3.Options) { o.RetryMaxAttempts = s3CheckAttempts })
	}
	return nil
}
