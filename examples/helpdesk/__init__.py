"""The helpdesk example backend: tickets, users and logins, instrumented with backend_metrics."""
