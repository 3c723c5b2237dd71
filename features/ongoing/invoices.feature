Feature: Invoices created in Canopy go to QBO
  All Service Items and Invoices will be synced between Canopy and QBO.
  (docs/rules.md R19: one way, Canopy to QBO; the client and each line's item are translated
  through the links; edits, voids and deletes are sent as such, D-14; an invoice that refers to
  something unlinked is held with a reason the user can see and sent once everything is linked.)

  Background:
    Given setup is finished for the "invoices_linked_and_held" firm

  @R19
  Scenario: A Canopy invoice whose client and items are linked is created in QBO
    When an invoice is created in Canopy for a client linked at setup, billing items the ground truth matches
    Then QBO holds the new Canopy invoice, billed to the linked customer for the linked items, with the same amounts
    And the sync log shows the invoice created in QBO

  @R19
  Scenario: An edit, a void and a delete of a synced invoice are sent to QBO as an update, a void and a delete (interpretation D-14)
    Given an invoice created in Canopy for a client linked at setup has reached QBO
    When a line's quantity is changed to "7" on the invoice in Canopy
    Then the same QBO invoice is updated to the new amounts, and QBO holds no second invoice for it
    When the invoice is voided in Canopy
    Then the QBO invoice is voided
    Given a second invoice created in Canopy for a client linked at setup has reached QBO
    When the second invoice is deleted in Canopy
    Then the second QBO invoice is deleted

  @R19
  Scenario: An invoice whose item is not linked is held with a reason, and goes out once the item is linked
    Given a service item created in Canopy with the name of an item linked at setup, reported as a duplicate
    When an invoice is created in Canopy for a client linked at setup, billing that item
    Then the invoice is held: the sync log says "item_unlinked" for that item and the status counts it as held
    And QBO holds no invoice for the new Canopy invoice
    When that item is renamed in Canopy to "Quarterly Advisory Retainer"
    Then the item is created in QBO and linked
    And QBO holds the new Canopy invoice, billed to the linked customer for the linked items, with the same amounts
    And the status counts no held invoice for it

  @R19
  Scenario: An invoice created in QBO does not come to Canopy
    When an invoice for a customer linked at setup is created in QBO
    Then Canopy holds as many invoices as were planted
