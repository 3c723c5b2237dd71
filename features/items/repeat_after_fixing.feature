Feature: Fixing unmatched service items and repeating the sync
  Once you have confirmed that the service items are matched, you will need to repeat the QBO
  sync process.

  @R16
  Scenario: Items fixed in Canopy and in QBO are linked on the repeat, earlier links are kept, nothing is created twice
    Given the Admin of the "items_mismatch" firm has connected its QBO company
    And the Admin has synced the contacts, importing "All" contacts
    When the Admin clicks Start on the service items step
    And the Admin clicks Sync service items
    Then the service items the ground truth matches are linked
    When the unmatched items are fixed in Canopy and in QBO as the scenario plans
    And the Admin repeats the QBO sync of the service items
    Then the review keeps the earlier links and matches the fixed items
    When the Admin clicks Sync service items
    Then the service items the ground truth matches after the fixes are linked
    And Canopy and QBO hold the service items that were planted, and no more
