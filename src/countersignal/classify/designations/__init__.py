"""Designation lists: parse (UN XML, CSV), load with versions and diffs, search, and choose
per organisation which lists are used."""

from countersignal.classify.designations.fetch import fetch_list
from countersignal.classify.designations.parse import (
    DesignationRecord,
    ParsedList,
    parse_csv,
    parse_list,
    parse_un_xml,
)
from countersignal.classify.designations.store import (
    UN_LIST_NAME,
    LoadResult,
    active_designations,
    disable_list,
    enable_list,
    enabled_lists,
    get_list,
    list_versions,
    load_list_file,
    load_parsed,
    search_designations,
    version_diff,
)

__all__ = [
    "UN_LIST_NAME",
    "DesignationRecord",
    "LoadResult",
    "ParsedList",
    "active_designations",
    "disable_list",
    "enable_list",
    "enabled_lists",
    "fetch_list",
    "get_list",
    "list_versions",
    "load_list_file",
    "load_parsed",
    "parse_csv",
    "parse_list",
    "parse_un_xml",
    "search_designations",
    "version_diff",
]
