"""My Style Lab (issue 9): style recommendations that lead shoppers to Dongdaemun stalls.

`service` is the public face (the catalogue in the database, imports and exports, the model kept
in memory and trained in the background, recommendations with their reasons and where to buy);
`routes` the API and the kiosk page (mounted by hub.app); `cli` the command line (`sewnet styles`).
The pure parts: `market` (the H&M three files in memory), `catalogue` (the catalogue CSV and
`Product`), `colour` (personal colour read from CIELAB), `metrics`, `recommender` (the two-stage
recommender, its popularity baseline and cold start), `evaluate`, `hours` (when Dongdaemun's
buildings are open) and `words` (ko/en/zh)."""
