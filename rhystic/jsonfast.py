"""orjson behind the json module's interface, for Socket.IO packets (the hot path)."""
import orjson


class fast_json:
    @staticmethod
    def dumps(obj, **kwargs):
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text, **kwargs):
        return orjson.loads(text)
