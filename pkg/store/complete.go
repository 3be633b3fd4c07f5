package store

import (
	"context"
	"crypto/md5" //nolint:gosec // G501: S3 defines a multipart ETag with MD5; not a security use
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// confirmComplete rescues a CompleteMultipartUpload whose answer was lost. S3
// may complete the upload and then fail to deliver the answer (the connection
// stalls or breaks, a 5xx), and the SDK's retry of the call then finds the
// upload gone (NoSuchUpload). Without this the transfer manager would abort the
// upload and fail the object although the object is stored whole.
//
// On such an error the middleware asks for the object (HeadObject) and accepts
// it only if its ETag is the multipart ETag that these parts produce: the MD5
// of the parts' ETags (MD5s of their bytes), then "-" and the part count, as S3
// and its compatible servers compute it. That ETag identifies the parts, so
// whatever upload stored that object stored exactly these bytes; an older
// object under the key, or nothing, does not pass. When the ETag cannot be
// computed or does not match (a store may derive it otherwise, as some do under
// SSE-KMS), or the size differs from MpuObjectSize when set, the original error
// stands. client returns the client to ask with.
func confirmComplete(client func() *s3.Client) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kferryConfirmComplete",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				params, ok := in.Parameters.(*s3.CompleteMultipartUploadInput)
				if err == nil || !ok || ctx.Err() != nil || !answerLost(err) {
					return out, md, err
				}
				res, cerr := confirmCompleted(ctx, client(), params)
				if cerr != nil {
					slog.Debug("s3: multipart upload not confirmed after a lost answer", "key", aws.ToString(params.Key), "reason", cerr.Error())
					return out, md, err
				}
				// Debug, as the SDK's retries are: the run goes on as if the answer had come.
				slog.Debug("s3: the answer to CompleteMultipartUpload was lost, but the object is stored whole", "key", aws.ToString(params.Key), "etag", aws.ToString(res.ETag), "error", oneLine(err.Error()))
				out.Result = res
				return out, md, nil
			}), middleware.Before)
	}
}

// answerLost reports whether a CompleteMultipartUpload error leaves open that
// the store completed the upload: the connection stalled, broke or timed out,
// the store failed with a 5xx, or a retry found the upload already gone.
func answerLost(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "NoSuchUpload" {
		return true
	}
	if errors.Is(err, ErrStalled) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// A transport error also comes as a response error, of status 0.
	var resp *awshttp.ResponseError
	return errors.As(err, &resp) && resp.HTTPStatusCode() >= 500
}

// confirmCompleted returns the result of params' upload when the object under
// its key is the one these parts make, and otherwise why not.
func confirmCompleted(ctx context.Context, client *s3.Client, params *s3.CompleteMultipartUploadInput) (*s3.CompleteMultipartUploadOutput, error) {
	want, err := multipartETag(params)
	if err != nil {
		return nil, err
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket:               params.Bucket,
		Key:                  params.Key,
		ExpectedBucketOwner:  params.ExpectedBucketOwner,
		SSECustomerAlgorithm: params.SSECustomerAlgorithm,
		SSECustomerKey:       params.SSECustomerKey,
		SSECustomerKeyMD5:    params.SSECustomerKeyMD5,
	})
	if err != nil {
		return nil, fmt.Errorf("head object: %w", err)
	}
	if got := strings.Trim(aws.ToString(head.ETag), `"`); !strings.EqualFold(got, want) {
		return nil, fmt.Errorf("object has ETag %q, the parts make %q", got, want)
	}
	if size := aws.ToInt64(params.MpuObjectSize); params.MpuObjectSize != nil && aws.ToInt64(head.ContentLength) != size {
		return nil, fmt.Errorf("object has %d bytes, the upload %d", aws.ToInt64(head.ContentLength), size)
	}
	return &s3.CompleteMultipartUploadOutput{
		Bucket:               params.Bucket,
		Key:                  params.Key,
		ETag:                 head.ETag,
		VersionId:            head.VersionId,
		ServerSideEncryption: head.ServerSideEncryption,
		SSEKMSKeyId:          head.SSEKMSKeyId,
		BucketKeyEnabled:     head.BucketKeyEnabled,
		Expiration:           head.Expiration,
	}, nil
}

// multipartETag is the ETag (unquoted) S3 gives the object of a completed
// multipart upload: hex(MD5(MD5 of part 1 ‖ … ‖ MD5 of part n)) + "-n", from the
// part ETags in params, which must be MD5s.
func multipartETag(params *s3.CompleteMultipartUploadInput) (string, error) {
	if params.MultipartUpload == nil || len(params.MultipartUpload.Parts) == 0 {
		return "", errors.New("no parts")
	}
	parts := params.MultipartUpload.Parts
	h := md5.New() //nolint:gosec // G401: the ETag S3 computes, compared with the one it returned
	for _, p := range parts {
		sum, err := hex.DecodeString(strings.Trim(aws.ToString(p.ETag), `"`))
		if err != nil || len(sum) != md5.Size {
			return "", fmt.Errorf("part %d has ETag %q, not an MD5", aws.ToInt32(p.PartNumber), aws.ToString(p.ETag))
		}
		h.Write(sum)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts)), nil
}
