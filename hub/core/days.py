"""Day names as the hub's pages and sheets print them."""

#: Monday first, as date.weekday() counts.
WEEKDAYS_KO = "월화수목금토일"
