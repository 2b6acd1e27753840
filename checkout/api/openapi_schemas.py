"""The OpenAPI components: generated from the models that define each request body
(api/bodies.py) and each answer (checkout/shapes.py), so the document, the API's checks and
its answers cannot drift apart."""

from functools import cache

from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from checkout import shapes
from checkout.api import bodies, queries


class _Components(GenerateJsonSchema):
    """Pydantic's JSON Schema, as the document writes it: no generated titles (the component
    names are the names), a nullable simple type as `type: [..., "null"]`, no `default: null`
    (leaving a field out is the default), one-line descriptions."""

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def generate(self, schema, mode="validation"):
        return _tidy(super().generate(schema, mode))

    def generate_definitions(self, inputs):
        mapping, definitions = super().generate_definitions(inputs)
        return mapping, {name: _tidy(value) for name, value in definitions.items()}


def _tidy(node):
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        # The keys of "properties" are field names, not keywords: a field may be "title".
        key: {name: _tidy(field) for name, field in value.items()}
        if key == "properties"
        else _tidy(value)
        for key, value in node.items()
        if key != "title"
    }
    if node.get("default", ...) is None:
        del node["default"]
    if isinstance(node.get("description"), str):
        node["description"] = " ".join(node["description"].split())
    choices = node.get("anyOf")
    if isinstance(choices, list) and len(choices) == 2 and {"type": "null"} in choices:
        [other] = [choice for choice in choices if choice != {"type": "null"}]
        if isinstance(other.get("type"), str) and "$ref" not in other:
            del node["anyOf"]
            node = {**other, **node, "type": [other["type"], "null"]}
    return node


@cache
def components() -> dict:
    """The document's `components.schemas`, generated when a document is first asked for,
    not at import: every Kassa process imports this module, few serve the document."""
    _, generated = models_json_schema(
        [(model, "validation") for model in bodies.BODIES]
        + [(model, "serialization") for model in shapes.ANSWERS],
        ref_template="#/components/schemas/{model}",
        schema_generator=_Components,
    )
    return dict(sorted(generated["$defs"].items()))


def query_parameters(query: type[queries.Query]) -> list[dict]:
    """The `parameters` of an operation whose query string `query` reads."""
    schema = query.model_json_schema(
        ref_template="#/components/schemas/{model}", schema_generator=_Components
    )
    listed = []
    for name, field in schema.get("properties", {}).items():
        field = dict(field)
        description = field.pop("description", None)
        field.pop("default", None)
        listed.append(
            {
                "name": name,
                "in": "query",
                **({"description": description} if description else {}),
                "schema": field,
            }
        )
    return listed
