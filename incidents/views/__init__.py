"""Views, one module per area: incident pages, the COE editor and review, history."""
