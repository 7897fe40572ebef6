"""Import parsing: CSV / JSON Lines files of leads, accounts, events or outcomes -> clean typed records.

No database access here: the ingest service stores what :func:`parse_file` / :func:`iter_parsed` return.
"""

from leadflow.services.importing.mapping import (
    FIELDS,
    KINDS,
    ColumnResolver,
    MappingError,
    map_lead_status,
    map_result,
    map_stage,
    normalize_name,
    property_slug,
    resolve_columns,
)
from leadflow.services.importing.readers import (
    RECORD_KEYS,
    Chunk,
    ImportFileError,
    ParsedFile,
    ParsedStream,
    RowError,
    detect_format,
    iter_parsed,
    normalize_domain,
    parse_file,
)

__all__ = [
    "FIELDS",
    "KINDS",
    "RECORD_KEYS",
    "Chunk",
    "ColumnResolver",
    "ImportFileError",
    "MappingError",
    "ParsedFile",
    "ParsedStream",
    "RowError",
    "detect_format",
    "iter_parsed",
    "map_lead_status",
    "map_result",
    "map_stage",
    "normalize_domain",
    "normalize_name",
    "parse_file",
    "property_slug",
    "resolve_columns",
]
