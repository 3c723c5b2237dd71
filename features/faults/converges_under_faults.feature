@R21
Feature: The sync converges under faults
  A run of scripted changes must reach the same end state as a clean run of the same changes,
  even when QBO throttles, servers fail or time out, a SyncToken is stale, webhooks are lost,
  repeated or reordered, or the engine is killed in the middle of a sync and restarted. Nothing
  is lost and nothing is created twice. End states are compared as the canonical projection of
  both fakes (docs/rules.md R21).

  The script, the same in every run: two new Canopy clients, a new QBO customer, a contact edited
  in Canopy, another edited in QBO, a service item edited in QBO, a new Canopy invoice for a linked
  client and item; then a linked client's e-mail changed in Canopy and the same customer's phone
  changed in QBO. Each run has a firm and QBO company of its own.

  @R21
  Scenario Outline: The scripted changes end as in the clean run when <fault>
    Given a firm and QBO company in ongoing sync of contacts, items and invoices, for "<fault>"
    When the scripted changes are made on both sides while "<fault>"
    And the sync settles: webhooks flushed, the engine reconciled, its inbox empty
    Then the canonical projection of both fakes equals the clean run's
    And no record is created twice, in either fake or in the sync log
    And the fault really happened

    Examples:
      | fault                                                                  |
      | QBO throttles requests with HTTP 429                                   |
      | QBO and Canopy answer HTTP 500                                         |
      | requests time out                                                      |
      | connections drop after a write was applied                             |
      | a person edits the QBO record between the engine's read and its write |
      | webhooks are dropped                                                   |
      | webhooks are duplicated                                                |
      | webhooks are reordered                                                 |
      | the engine is killed with SIGKILL mid-sync and restarted               |
