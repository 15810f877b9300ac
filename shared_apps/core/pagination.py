from rest_framework.pagination import CursorPagination


class TenantCursorPagination(CursorPagination):
    """Cursor pagination for every list endpoint: stable under inserts, O(1) per page."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created"
