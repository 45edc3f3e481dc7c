"""My Style Lab (issue 9): style recommendations that lead shoppers to Dongdaemun stalls.

`service` is the public face (the catalogue, shoppers and purchases in the database with their
imports and exports, the model served from memory, recommendations with their reasons and where
to buy); behind it `store` (the tables' side, `tables`) and `engine` (the model: popularity until
the recommender is trained in the background). `routes` holds the API and the kiosk page (mounted
by hub.app), `cli` the command line (`sewnet styles`), `config` its settings. Pure: `market` (the
H&M three files in memory), `catalogue` (the catalogue CSV and `Product`), `colour` (personal
colour read from CIELAB), `metrics`, `recommender/` (the two-stage recommender, its popularity
baseline and cold start), `evaluate`, `hours` (when Dongdaemun's buildings are open) and `words`
(Korean, English, Chinese)."""
