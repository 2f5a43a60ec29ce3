"""JSON Schemas (draft 2020-12) for the responses an OpenAI-compatible server must send.

Transcribed by hand from OpenAI's published OpenAPI document (openai/openai-openapi,
`openapi.yaml`, OpenAPI 3.1), keeping exactly what it marks required and nullable, so a
test can tell "the gateway's output is what the official SDKs are typed against" from
"the SDK happened to parse it". The spec's `nullable: true` (an OpenAPI 3.0 leftover) is
written as `anyOf [..., {"type": "null"}]`. The spec never sets `additionalProperties:
false` on these objects, so extra keys are allowed everywhere; `format` keywords are left
out because they are annotations only.

Schema here              Spec object
-----------------------  -----------------------------------------------------------------
CHAT_COMPLETION          CreateChatCompletionResponse (+ ChatCompletionResponseMessage,
                         ChatCompletionMessageToolCall, ChatCompletionMessageCustomToolCall,
                         ChatCompletionTokenLogprob, CompletionUsage, ServiceTier, Metadata,
                         ChatCompletionModeration)
CHAT_COMPLETION_CHUNK    CreateChatCompletionStreamResponse (+ ChatCompletionStreamResponseDelta,
                         ChatCompletionMessageToolCallChunk), plus the two rules the spec
                         states in prose on `usage` and `ChatCompletionStreamOptions`: a chunk
                         with choices has `usage` null or absent; the usage chunk has
                         `choices: []` and a usage object.
COMPLETION               CreateCompletionResponse
COMPLETION_CHUNK         not in the spec, which types legacy completion streams as
                         CreateCompletionResponse itself; that would reject the
                         `finish_reason: null` every non-final chunk carries, so this is
                         CreateCompletionResponse with that one field nullable and the same
                         usage rules as CHAT_COMPLETION_CHUNK.
EMBEDDING_LIST           CreateEmbeddingResponse (+ Embedding). The spec types `embedding` as
                         an array of floats only; `encoding_format: "base64"` (a documented
                         request option) returns a base64 string, so both are accepted.
MODEL                    Model
MODEL_LIST               ListModelsResponse
ERROR_RESPONSE           ErrorResponse (+ Error): all four of message, type, param, code are
                         required; param and code may be null.
USAGE                    CompletionUsage
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator

Schema = dict[str, Any]

NULL: Schema = {"type": "null"}


def nullable(schema: Schema) -> Schema:
    """The spec's `nullable: true` / `anyOf [X, null]`."""
    return {"anyOf": [schema, NULL]}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def obj(required: Iterable[str], **properties: Schema) -> Schema:
    """An object with these properties, these of them required, extra keys allowed."""
    return {"type": "object", "required": list(required), "properties": properties}


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}

# ServiceTier: a nullable enum.
SERVICE_TIER = nullable(enum("auto", "default", "flex", "scale", "priority", "fast"))

# Metadata: a nullable map of strings.
METADATA = nullable({"type": "object", "additionalProperties": STRING})

# CompletionUsage: the three counts are required; the two detail objects are optional and
# none of their keys is required.
USAGE: Schema = obj(
    ["prompt_tokens", "completion_tokens", "total_tokens"],
    prompt_tokens=INTEGER,
    completion_tokens=INTEGER,
    total_tokens=INTEGER,
    completion_tokens_details=obj(
        [],
        accepted_prediction_tokens=INTEGER,
        audio_tokens=INTEGER,
        reasoning_tokens=INTEGER,
        text_tokens=INTEGER,
        rejected_prediction_tokens=INTEGER,
    ),
    prompt_tokens_details=obj(
        [],
        audio_tokens=INTEGER,
        cached_tokens=INTEGER,
        text_tokens=INTEGER,
        image_tokens=INTEGER,
        cache_write_tokens=INTEGER,
    ),
)

_BYTES = nullable({"type": "array", "items": INTEGER})

# ChatCompletionTokenLogprob
TOKEN_LOGPROB: Schema = obj(
    ["token", "logprob", "bytes", "top_logprobs"],
    token=STRING,
    logprob=NUMBER,
    bytes=_BYTES,
    top_logprobs={
        "type": "array",
        "items": obj(["token", "logprob", "bytes"], token=STRING, logprob=NUMBER, bytes=_BYTES),
    },
)

# The choice-level `logprobs` object of chat responses and chunks.
CHAT_LOGPROBS: Schema = obj(
    ["content", "refusal"],
    content=nullable({"type": "array", "items": TOKEN_LOGPROB}),
    refusal=nullable({"type": "array", "items": TOKEN_LOGPROB}),
)

CHAT_FINISH_REASON = enum("stop", "length", "tool_calls", "content_filter", "function_call")

# ChatCompletionMessageToolCall / ChatCompletionMessageCustomToolCall (oneOf on `type`).
FUNCTION_TOOL_CALL: Schema = obj(
    ["id", "type", "function"],
    id=STRING,
    type=enum("function"),
    function=obj(["name", "arguments"], name=STRING, arguments=STRING),
)
CUSTOM_TOOL_CALL: Schema = obj(
    ["id", "type", "custom"],
    id=STRING,
    type=enum("custom"),
    custom=obj(["name", "input"], name=STRING, input=STRING),
)

_URL_CITATION = obj(
    ["type", "url_citation"],
    type=enum("url_citation"),
    url_citation=obj(
        ["end_index", "start_index", "url", "title"],
        end_index=INTEGER,
        start_index=INTEGER,
        url=STRING,
        title=STRING,
    ),
)

_AUDIO = nullable(
    obj(
        ["id", "expires_at", "data", "transcript"],
        id=STRING,
        expires_at=INTEGER,
        data=STRING,
        transcript=STRING,
    )
)

# ChatCompletionResponseMessage: role, content and refusal are all required, the last two
# nullable; tool_calls is optional (absent, not null, when there are none).
CHAT_MESSAGE: Schema = obj(
    ["role", "content", "refusal"],
    role=enum("assistant"),
    content=nullable(STRING),
    refusal=nullable(STRING),
    tool_calls={"type": "array", "items": {"oneOf": [FUNCTION_TOOL_CALL, CUSTOM_TOOL_CALL]}},
    annotations={"type": "array", "items": _URL_CITATION},
    function_call=obj(["name", "arguments"], name=STRING, arguments=STRING),
    audio=_AUDIO,
)

_MODERATION_RESULT = {
    "oneOf": [
        obj(
            ["type", "model", "results"],
            type=enum("moderation_results"),
            model=STRING,
            results={"type": "array", "items": {"type": "object"}},
        ),
        obj(["type", "code", "message"], type=enum("error"), code=STRING, message=STRING),
    ]
}

# ChatCompletionModeration
MODERATION = nullable(obj(["input", "output"], input=_MODERATION_RESULT, output=_MODERATION_RESULT))

# CreateChatCompletionResponse. `usage` and `system_fingerprint` are optional; when
# present the fingerprint is a string (the spec does not allow null).
CHAT_COMPLETION: Schema = obj(
    ["id", "object", "created", "model", "choices"],
    id=STRING,
    object=enum("chat.completion"),
    created=INTEGER,
    model=STRING,
    choices={
        "type": "array",
        "items": obj(
            ["index", "message", "finish_reason", "logprobs"],
            index=INTEGER,
            message=CHAT_MESSAGE,
            finish_reason=CHAT_FINISH_REASON,
            logprobs=nullable(CHAT_LOGPROBS),
        ),
    },
    usage=USAGE,
    system_fingerprint=STRING,
    service_tier=SERVICE_TIER,
    metadata=METADATA,
    moderation=MODERATION,
)

# ChatCompletionMessageToolCallChunk: only `index` is required; id/type/name come on the
# first delta of a call and the arguments arrive in pieces.
TOOL_CALL_DELTA: Schema = obj(
    ["index"],
    index=INTEGER,
    id=STRING,
    type=enum("function"),
    function=obj([], name=STRING, arguments=STRING),
)

# ChatCompletionStreamResponseDelta: nothing is required (the final delta is `{}`).
CHAT_DELTA: Schema = obj(
    [],
    role=enum("developer", "system", "user", "assistant", "tool"),
    content=nullable(STRING),
    refusal=nullable(STRING),
    tool_calls={"type": "array", "items": TOOL_CALL_DELTA},
    function_call=obj([], name=STRING, arguments=STRING),
)

_HAS_CHOICES: Schema = {"properties": {"choices": {"minItems": 1}}}


def _stream_usage_rules(schema: Schema) -> Schema:
    """What the spec says in prose about `stream_options.include_usage`: every chunk with
    choices has `usage: null` (or none at all when usage was not asked for), and the one
    usage chunk has `choices: []` and the usage object."""
    return {
        **schema,
        "if": _HAS_CHOICES,
        "then": {"properties": {"usage": NULL}},
        "else": {"required": ["usage"], "properties": {"usage": USAGE}},
    }


# CreateChatCompletionStreamResponse. Unlike the non-stream choice, `logprobs` is optional
# here, while `finish_reason` is required and null on every chunk but a choice's last.
CHAT_COMPLETION_CHUNK: Schema = _stream_usage_rules(
    obj(
        ["id", "object", "created", "model", "choices"],
        id=STRING,
        object=enum("chat.completion.chunk"),
        created=INTEGER,
        model=STRING,
        choices={
            "type": "array",
            "items": obj(
                ["delta", "finish_reason", "index"],
                delta=CHAT_DELTA,
                finish_reason=nullable(CHAT_FINISH_REASON),
                index=INTEGER,
                logprobs=nullable(CHAT_LOGPROBS),
            ),
        },
        usage=nullable(USAGE),
        system_fingerprint=STRING,
        service_tier=SERVICE_TIER,
        obfuscation=STRING,
        moderation=MODERATION,
    )
)

COMPLETION_FINISH_REASON = enum("stop", "length", "content_filter")

# The legacy `logprobs` object: no key of it is required.
COMPLETION_LOGPROBS: Schema = obj(
    [],
    text_offset={"type": "array", "items": INTEGER},
    token_logprobs={"type": "array", "items": NUMBER},
    tokens={"type": "array", "items": STRING},
    top_logprobs={"type": "array", "items": {"type": "object", "additionalProperties": NUMBER}},
)


def _completion(finish_reason: Schema, usage: Schema) -> Schema:
    return obj(
        ["id", "object", "created", "model", "choices"],
        id=STRING,
        object=enum("text_completion"),
        created=INTEGER,
        model=STRING,
        choices={
            "type": "array",
            "items": obj(
                ["finish_reason", "index", "logprobs", "text"],
                finish_reason=finish_reason,
                index=INTEGER,
                logprobs=nullable(COMPLETION_LOGPROBS),
                text=STRING,
            ),
        },
        usage=usage,
        system_fingerprint=STRING,
    )


# CreateCompletionResponse
COMPLETION: Schema = _completion(COMPLETION_FINISH_REASON, USAGE)

# A legacy completion stream chunk (see the module docstring).
COMPLETION_CHUNK: Schema = _stream_usage_rules(
    _completion(nullable(COMPLETION_FINISH_REASON), nullable(USAGE))
)

# Embedding (+ the base64 string `encoding_format: "base64"` returns).
EMBEDDING: Schema = obj(
    ["index", "object", "embedding"],
    index=INTEGER,
    object=enum("embedding"),
    embedding={"anyOf": [{"type": "array", "items": NUMBER}, STRING]},
)

# CreateEmbeddingResponse: usage is required here, with only two counts.
EMBEDDING_LIST: Schema = obj(
    ["object", "model", "data", "usage"],
    object=enum("list"),
    model=STRING,
    data={"type": "array", "items": EMBEDDING},
    usage=obj(["prompt_tokens", "total_tokens"], prompt_tokens=INTEGER, total_tokens=INTEGER),
)

# Model
MODEL: Schema = obj(
    ["id", "object", "created", "owned_by"],
    id=STRING,
    object=enum("model"),
    created=INTEGER,
    owned_by=STRING,
    shutdown_date=nullable(STRING),
)

# ListModelsResponse
MODEL_LIST: Schema = obj(
    ["object", "data"],
    object=enum("list"),
    data={"type": "array", "items": MODEL},
)

# ErrorResponse / Error
ERROR_RESPONSE: Schema = obj(
    ["error"],
    error=obj(
        ["message", "type", "param", "code"],
        message=STRING,
        type=STRING,
        param=nullable(STRING),
        code=nullable(STRING),
    ),
)

# A transcription slip that makes a schema itself invalid fails at import, not in some test.
for _schema in (
    CHAT_COMPLETION,
    CHAT_COMPLETION_CHUNK,
    COMPLETION,
    COMPLETION_CHUNK,
    EMBEDDING_LIST,
    MODEL,
    MODEL_LIST,
    ERROR_RESPONSE,
    USAGE,
):
    Draft202012Validator.check_schema(_schema)
