"""orjson behind the json module's interface, for Socket.IO packets (the hot path)."""
import orjson

# python-socketio parses the packet's ack id before its JSON, so a payload we cannot
# decode (not JSON, nested too deeply, a lone surrogate) is turned into this event,
# which the catch-all handler answers with an invalid_request ack instead of a silent drop.
UNDECODABLE = '\x00undecodable'


class fast_json:
    @staticmethod
    def dumps(obj, **kwargs):
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text, **kwargs):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return [UNDECODABLE]
