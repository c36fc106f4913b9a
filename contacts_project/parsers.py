"""JSON bodies parsed with orjson; the top level must be an object (a list or a scalar is a 400)."""
import orjson
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if not raw.strip():
            return {}
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ParseError(f"The body must be a JSON object, not {type(data).__name__}.")
        return data
