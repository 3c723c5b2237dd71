Feature: Syncing service items and finishing
  Once all necessary service items match, click Sync service items. Click Finish. All Service
  Items and Invoices will be synced between Canopy and QBO.

  @R17
  Scenario: The items step offers the active Income account with the lowest Id (interpretation D-12)
    Given the Admin of the "contacts_unmatched" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the "Services" income account is made inactive in QBO
    And the Admin clicks Start on the service items step
    Then the service items review is shown
    And the income account offered is the active Income account with the lowest Id in QBO
    When the Admin chooses the "Uncategorized Income" account for new service items
    Then the Integrations page shows the "Uncategorized Income" account as the income account

  @R17
  Scenario: Finish sends every invoice whose client and items are linked, and holds the rest
    Given the Admin of the "invoices_linked_and_held" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the Admin clicks Start on the service items step
    And the Admin clicks Sync service items
    Then the service items the ground truth matches are linked
    When the Admin clicks Finish
    Then QBO holds an invoice for each Canopy invoice the ground truth sends for "All", billed to the linked customer for the linked items
    And QBO holds no invoice for the Canopy invoices the ground truth holds for "All"
    And the sync log shows each invoice the ground truth holds for "All" with its reasons
    When the Admin clicks Finish again
    Then QBO holds no more invoices than after the first Finish
