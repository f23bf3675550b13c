package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/oppconfig/oppconfig-graphql/internal/apierror"
	"github.com/oppconfig/oppconfig-graphql/internal/limits"
	"github.com/oppconfig/oppconfig-graphql/internal/live"
	"github.com/oppconfig/oppconfig-graphql/internal/opportunity"
	"github.com/oppconfig/oppconfig-graphql/internal/tanmarket"
)

// upstreamErrors maps each upstream failure kind to what the client is told:
// the one table from domain error to transport.
var upstreamErrors = map[tanmarket.Kind]struct {
	code    apierror.Code
	message string
}{
	tanmarket.KindUnavailable: {apierror.UpstreamUnavailable, "the opportunity configuration is unavailable: the upstream did not answer in time or answered with an error status"},
	tanmarket.KindRejected:    {apierror.UpstreamRejected, "the upstream refused the request for the opportunity configuration"},
	tanmarket.KindBadResponse: {apierror.UpstreamBadResponse, "the upstream answered with a malformed opportunity configuration"},
}

// errNoSubscriptions is the subscription resolver's error when the executor
// was built without a feed.
var errNoSubscriptions = errors.New("subscriptions are not served here")

// presentError turns a resolver error into what the client sees. Errors gqlgen
// made itself (parse, validation) pass through. Upstream errors keep the
// upstream's code and message (the client scrubbed them of credentials) but not
// network details. Anything else is logged, with the operation, and shown as a
// bare internal error, so no internal text reaches a client.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Err == nil {
			// gqlgen's own (parse, validation), or made by us with a code
			// already; a bound of ours gets its own code back from gqlgen's
			// generic GRAPHQL_VALIDATION_FAILED / GRAPHQL_PARSE_FAILED.
			if code := cmp.Or(limits.Code(gqlErr), introspectionCode(gqlErr), federationCode(gqlErr)); code != "" {
				gqlErr.Extensions = map[string]any{"code": string(code)}
			}
			return gqlErr
		}
		cause := gqlErr.Err
		var upstream *tanmarket.Error
		switch {
		case errors.As(cause, &upstream):
			shown := upstreamErrors[upstream.Kind]
			gqlErr.Message = shown.message
			ext := map[string]any{"code": string(shown.code)}
			if upstream.Status != 0 {
				ext["upstreamStatus"] = upstream.Status
			}
			if upstream.Code != 0 {
				ext["upstreamCode"] = upstream.Code
				ext["upstreamMessage"] = upstream.Message
			}
			gqlErr.Extensions = ext
		case errors.Is(cause, opportunity.ErrStageNotFound):
			// The message names the ids the client sent, nothing else.
			gqlErr.Message = cause.Error()
			gqlErr.Extensions = map[string]any{"code": string(apierror.StageNotFound)}
		case errors.Is(cause, opportunity.ErrTypeNotFound):
			gqlErr.Message = cause.Error()
			gqlErr.Extensions = map[string]any{"code": string(apierror.TypeNotFound)}
		case errors.Is(cause, live.ErrClosed):
			gqlErr.Message = "the service is shutting down; subscribe again"
			gqlErr.Extensions = map[string]any{"code": string(apierror.Overloaded)}
		case errors.Is(cause, live.ErrTooManySubscriptions):
			gqlErr.Message = "this connection carries as many subscriptions as MAX_STREAMS_PER_CLIENT allows; complete one first"
			gqlErr.Extensions = map[string]any{"code": string(apierror.RateLimited)}
		case errors.Is(cause, errNoSubscriptions):
			gqlErr.Message = cause.Error()
			gqlErr.Extensions = map[string]any{"code": string(apierror.BadRequest)}
		case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded):
			gqlErr.Message = "the request was cancelled or ran out of time before the configuration arrived"
			gqlErr.Extensions = map[string]any{"code": string(apierror.RequestCancelled)}
		default:
			logger.ErrorContext(ctx, "resolver failed", "path", gqlErr.Path.String(), "err", cause)
			gqlErr.Message = "internal server error"
			gqlErr.Extensions = map[string]any{"code": string(apierror.Internal)}
		}
		return gqlErr
	}
}

// recoverPanic replaces gqlgen's default, which prints the panic value to
// stderr: a value may hold anything, credentials included. The log line gets
// the value's type and the stack, never the value.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		logger.ErrorContext(ctx, "panic in resolver", "type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
		return apierror.GraphQL(apierror.Internal, "internal server error")
	}
}
